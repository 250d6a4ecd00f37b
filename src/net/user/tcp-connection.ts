/**
 * One TCP connection between the guest and the NAT (RFC 793 §3.9 event processing, the
 * retransmission timer of RFC 6298, Karn's rule): the NAT is the guest's peer, and a host
 * `net.Socket` carries the byte stream on (tcp-nat.ts wires it).
 *
 * Opened two ways, as slirp: passively for a guest SYN (the SYN-ACK goes out only once the host
 * connection is up — slirp holds the connection in SYN_RCVD while it connects), or actively for
 * a host-forwarded client (SYN to the guest, SYN_SENT).
 *
 * Toward the guest: bytes from the host wait in `sendBuf` until acknowledged (at most
 * SEND_BUF_BYTES; the host socket is paused beyond it), segments of at most the guest's MSS
 * within its window; on the retransmission timeout everything unacknowledged is sent again
 * (go-back-N) with exponential backoff, a zero window is probed, and after MAX_RETRIES the
 * connection is reset. All times come from the NetClock.
 * From the guest: in-order data only (out-of-order segments are dropped and re-acknowledged —
 * the guest retransmits; slirp queues them), within the window we advertise, which is the room
 * left in the host socket's write buffer (RCV_BUF_BYTES) — a guest sending faster than the
 * host peer reads is held by the window, not by memory.
 *
 * Not implemented: window scaling, SACK, timestamps (not offered, so the guest does not use
 * them), urgent data (URG is ignored), out-of-order reassembly.
 */

import { ByteQueue } from './byte-queue.js';
import { seqAdd, seqDiff, seqLeq, seqLt, TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN, type TcpSegment, type TcpSegmentOut } from './tcp-segment.js';

export const enum TcpState {
  Closed, Listen, SynSent, SynRcvd, Established, CloseWait, FinWait1, Closing, LastAck, FinWait2, TimeWait,
}
/** slirp's `tcpstates[]`, the names `info usernet` prints. */
export const TCP_STATE_NAMES = ['CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RCVD', 'ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_1', 'CLOSING', 'LAST_ACK', 'FIN_WAIT_2', 'TIME_WAIT'];

/** Our MSS: the 1500-byte link minus IP and TCP headers (slirp's if_mtu - 40). */
export const TCP_OUR_MSS = 1460;
/** RFC 879 default when the guest's SYN has no MSS option. */
export const TCP_DEFAULT_MSS = 536;
/** Host bytes held for the guest before the host socket is paused. */
export const SEND_BUF_BYTES = 256 * 1024;
/** Guest bytes held for a slow host peer: our advertised window is what is left of this. */
export const RCV_BUF_BYTES = 65535;
export const RTO_INITIAL_NS = 1e9;
export const RTO_MIN_NS = 200e6;
export const RTO_MAX_NS = 60e9;
/** Retransmissions of one segment before the connection is reset (slirp's TCP_MAXRXTSHIFT). */
export const MAX_RETRIES = 12;
/** 2 × slirp's TCPTV_MSL (5 s). */
export const TIME_WAIT_NS = 10e9;

/** The host end of the connection. */
export interface TcpHostEnd {
  write(data: Uint8Array): void;
  /** The guest sent FIN: half-close toward the host peer. */
  end(): void;
  /** Bytes written and not yet taken by the host peer. */
  readonly pendingBytes: number;
  setReading(on: boolean): void;
}

export interface TcpConnectionDeps {
  now(): number;
  output(conn: TcpConnection, seg: TcpSegmentOut): void;
  /** Whether the path to the guest has room for more data segments. */
  canOutputData(): boolean;
  requestTick(deadlineNs: number): void;
  /** Both directions are done (TIME_WAIT or CLOSED) or the connection was reset: release the host end. */
  finished(conn: TcpConnection, reset: boolean): void;
  /** The connection is gone: forget it. */
  removed(conn: TcpConnection): void;
}

export class TcpConnection {
  state: TcpState;
  host: TcpHostEnd | undefined;
  private readonly iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private rcvNxt = 0;
  private mss = TCP_DEFAULT_MSS;
  readonly sendBuf = new ByteQueue();
  private hostEof = false;
  private finSent = false;
  private rtoNs = RTO_INITIAL_NS;
  private srttNs = 0;
  private rttvarNs = 0;
  private timing = false;
  private rttSeq = 0;
  private rttStartNs = 0;
  private retries = 0;
  private rtxDeadlineNs = Infinity;
  private timeWaitDeadlineNs = Infinity;
  private lastAdvertisedWindow = RCV_BUF_BYTES;
  private readingPaused = false;
  private done = false;

  private constructor(
    private readonly d: TcpConnectionDeps,
    readonly guestIp: number,
    readonly guestPort: number,
    readonly remoteIp: number,
    readonly remotePort: number,
    iss: number,
    state: TcpState,
    /** Accepted from a host-forwarded port (slirp's SS_INCOMING). */
    readonly incoming: boolean,
  ) {
    this.iss = iss >>> 0;
    this.sndUna = this.sndNxt = this.sndMax = this.iss;
    this.state = state;
  }

  /** A guest SYN: the NAT connects to the host, then calls `hostConnected()`. */
  static fromGuestSyn(d: TcpConnectionDeps, syn: TcpSegment, guestIp: number, remoteIp: number, iss: number): TcpConnection {
    const c = new TcpConnection(d, guestIp, syn.srcPort, remoteIp, syn.dstPort, iss, TcpState.SynRcvd, false);
    c.rcvNxt = seqAdd(syn.seq, 1);
    c.sndWnd = syn.window;
    c.mss = Math.min(TCP_OUR_MSS, Math.max(64, syn.mss ?? TCP_DEFAULT_MSS));
    return c;
  }

  /** A host client of a forwarded port: SYN to the guest. */
  static toGuest(d: TcpConnectionDeps, guestIp: number, guestPort: number, remoteIp: number, remotePort: number, iss: number, host: TcpHostEnd): TcpConnection {
    const c = new TcpConnection(d, guestIp, guestPort, remoteIp, remotePort, iss, TcpState.SynSent, true);
    c.host = host;
    c.sendSyn();
    return c;
  }

  get stateName(): string {
    return TCP_STATE_NAMES[this.state]!;
  }

  /** The host connection is up: answer the guest's SYN. */
  hostConnected(host: TcpHostEnd): void {
    this.host = host;
    this.sendSyn();
  }

  /** Bytes from the host peer. */
  hostData(data: Uint8Array): void {
    if (this.done || this.hostEof) return;
    this.sendBuf.append(data);
    if (this.sendBuf.length >= SEND_BUF_BYTES && !this.readingPaused) {
      this.readingPaused = true;
      this.host?.setReading(false);
    }
    this.transmit();
  }

  /** The host peer closed its sending side: FIN after the buffered bytes. */
  hostEnd(): void {
    if (this.done) return;
    this.hostEof = true;
    this.transmit();
  }

  /** The host connection failed or was reset: reset the guest's side. */
  hostReset(): void {
    if (this.done) return;
    if (this.state !== TcpState.SynRcvd || this.host) this.sendRst();
    else this.output(TH_RST | TH_ACK, 0, this.rcvNxt); // connect refused: answer the SYN with RST
    this.finish(true);
  }

  /** The host socket's write buffer drained: re-open the window if we had closed it. */
  hostDrained(): void {
    if (this.done || !this.synchronized) return;
    if (this.lastAdvertisedWindow < RCV_BUF_BYTES / 2 && this.receiveWindow() >= RCV_BUF_BYTES / 2) this.sendAck();
  }

  /** The path to the guest has room again. */
  pump(): void {
    if (!this.done) this.transmit();
  }

  /** Fires timers due at `nowNs`; returns the next deadline. */
  tick(nowNs: number): number {
    if (this.done) return Infinity;
    if (this.timeWaitDeadlineNs <= nowNs) {
      this.finish(false);
      return Infinity;
    }
    if (this.rtxDeadlineNs <= nowNs) this.retransmitTimeout(nowNs);
    return this.done ? Infinity : Math.min(this.rtxDeadlineNs, this.timeWaitDeadlineNs);
  }

  /** Drops the connection without a word to the guest (back end closing). */
  abandon(): void {
    this.done = true;
    this.rtxDeadlineNs = this.timeWaitDeadlineNs = Infinity;
  }

  /** Bytes waiting for the host peer (the `SendQ` of `info usernet`). */
  get hostPendingBytes(): number {
    return this.host?.pendingBytes ?? 0;
  }

  /** A segment from the guest for this connection. */
  segment(seg: TcpSegment): void {
    if (this.done) return;
    if (this.state === TcpState.SynSent) return this.segmentInSynSent(seg);
    if (seg.flags & TH_RST) {
      // RFC 5961 §3: only an RST at the expected sequence number is believed.
      if (seg.seq === this.rcvNxt || (seqLeq(this.rcvNxt, seg.seq) && seqLt(seg.seq, seqAdd(this.rcvNxt, this.receiveWindow())))) this.finish(true);
      return;
    }
    if (this.state === TcpState.SynRcvd && !this.host) return; // still connecting: the guest's SYN retransmissions wait
    if (seg.flags & TH_SYN) {
      // A retransmitted SYN whose SYN-ACK was lost: send it again; any other SYN gets an ACK (RFC 5961 §4).
      if (this.state === TcpState.SynRcvd && seqAdd(seg.seq, 1) === this.rcvNxt) this.sendSyn();
      else this.sendAck();
      return;
    }
    if (!(seg.flags & TH_ACK)) return;
    if (this.state === TcpState.TimeWait) {
      if (seg.flags & TH_FIN) this.sendAck();
      return;
    }
    if (!this.processAck(seg)) return;
    if (this.done) return;
    this.processData(seg);
    if (!this.done) this.transmit();
  }

  private get synchronized(): boolean {
    return this.state >= TcpState.Established;
  }

  private segmentInSynSent(seg: TcpSegment): void {
    const ackOk = (seg.flags & TH_ACK) !== 0 && seg.ack === this.sndNxt;
    if (seg.flags & TH_RST) {
      if (ackOk) this.finish(true); // guest port closed
      return;
    }
    if (seg.flags & TH_ACK && !ackOk) {
      this.output(TH_RST, seg.ack, 0);
      return;
    }
    if (!(seg.flags & TH_SYN) || !ackOk) return;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.sndUna = seg.ack;
    this.sndWnd = seg.window;
    this.mss = Math.min(TCP_OUR_MSS, Math.max(64, seg.mss ?? TCP_DEFAULT_MSS));
    this.state = TcpState.Established;
    this.ackedSomething();
    this.sendAck();
    this.host?.setReading(true);
    this.transmit();
  }

  /** RFC 793 "fifth, check the ACK field". False: drop the segment. */
  private processAck(seg: TcpSegment): boolean {
    if (seqLt(this.sndMax, seg.ack)) {
      this.sendAck(); // acknowledges something never sent
      return false;
    }
    if (this.state === TcpState.SynRcvd) {
      if (!seqLt(this.sndUna, seg.ack)) return false;
      this.state = TcpState.Established;
      this.sndUna = seqAdd(this.sndUna, 1); // our SYN
      this.ackedSomething();
      this.host?.setReading(true);
    }
    let acked = seqDiff(seg.ack, this.sndUna);
    if (acked > 0) {
      const dataAcked = Math.min(acked, this.sendBuf.length);
      this.sendBuf.consume(dataAcked);
      acked -= dataAcked;
      this.sndUna = seg.ack;
      if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
      if (this.timing && seqLt(this.rttSeq, seg.ack)) this.rttSample(this.d.now() - this.rttStartNs);
      if (this.readingPaused && this.sendBuf.length < SEND_BUF_BYTES / 2) {
        this.readingPaused = false;
        this.host?.setReading(true);
      }
      this.ackedSomething();
      if (acked > 0 && this.finSent) this.ourFinAcked();
    }
    if (seqLeq(this.sndUna, seg.ack)) {
      this.sndWnd = seg.window;
      // A guest answering our zero-window probes is alive: keep probing, never give up (RFC 1122 4.2.2.17).
      if (seg.window === 0 && seg.ack === this.sndUna) this.retries = 0;
    }
    return true;
  }

  private ourFinAcked(): void {
    switch (this.state) {
      case TcpState.FinWait1: this.state = TcpState.FinWait2; break;
      case TcpState.Closing: this.enterTimeWait(); break;
      case TcpState.LastAck: this.finish(false); break;
      default: break;
    }
  }

  private processData(seg: TcpSegment): void {
    let data = seg.data;
    let seq = seg.seq;
    const hasFin = (seg.flags & TH_FIN) !== 0;
    if (data.length === 0 && !hasFin) return;
    const receiving = this.state === TcpState.Established || this.state === TcpState.FinWait1 || this.state === TcpState.FinWait2;
    if (!receiving) {
      this.sendAck(); // data or FIN after the guest's FIN: a retransmission
      return;
    }
    const before = seqDiff(this.rcvNxt, seq);
    if (before > 0) {
      // Partly or wholly old: trim what we already have.
      if (before > data.length + (hasFin ? 1 : 0)) {
        this.sendAck();
        return;
      }
      data = data.subarray(Math.min(before, data.length));
      seq = this.rcvNxt;
    }
    if (seq !== this.rcvNxt) {
      this.sendAck(); // out of order: dropped, the duplicate ACK asks for the gap
      return;
    }
    const take = Math.min(data.length, this.receiveWindow());
    if (take > 0) {
      this.host?.write(data.subarray(0, take));
      this.rcvNxt = seqAdd(this.rcvNxt, take);
    }
    if (hasFin && take === data.length) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.host?.end();
      if (this.state === TcpState.Established) this.state = TcpState.CloseWait;
      else if (this.state === TcpState.FinWait1) this.state = TcpState.Closing;
      else if (this.state === TcpState.FinWait2) this.enterTimeWait();
    }
    this.sendAck();
  }

  /** Sends what the window, the MSS and the guest path allow; the FIN once the host is done. */
  private transmit(force1 = false): void {
    if (!this.synchronized || this.state === TcpState.TimeWait) return;
    for (;;) {
      const offset = seqDiff(this.sndNxt, this.sndUna);
      const avail = this.sendBuf.length - offset;
      const usable = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
      if (avail > 0 && (usable > 0 || force1) && this.d.canOutputData()) {
        const len = force1 ? 1 : Math.min(avail, usable, this.mss);
        force1 = false;
        const data = this.sendBuf.read(offset, len);
        const seq = this.sndNxt;
        this.sentNew(seq, len); // state first: output may re-enter through a synchronous NIC
        this.output(TH_ACK | (len === avail ? TH_PSH : 0), seq, this.rcvNxt, data);
        continue;
      }
      if (avail === 0 && this.hostEof && !this.finSent && this.d.canOutputData()) {
        const seq = this.sndNxt;
        this.finSent = true;
        this.sentNew(seq, 1);
        if (this.state === TcpState.Established) this.state = TcpState.FinWait1;
        else if (this.state === TcpState.CloseWait) this.state = TcpState.LastAck;
        this.output(TH_FIN | TH_ACK, seq, this.rcvNxt);
      }
      break;
    }
    const offset = seqDiff(this.sndNxt, this.sndUna);
    if (this.sendBuf.length > offset && this.sndWnd === 0 && this.rtxDeadlineNs === Infinity) this.armRtx(); // persist
  }

  private sentNew(seq: number, len: number): void {
    const end = seqAdd(seq, len);
    const isNew = seqLt(this.sndMax, end);
    if (seqLt(this.sndNxt, end)) this.sndNxt = end;
    if (isNew) this.sndMax = end;
    if (isNew && !this.timing) {
      this.timing = true;
      this.rttSeq = seq;
      this.rttStartNs = this.d.now();
    }
    if (this.rtxDeadlineNs === Infinity) this.armRtx();
  }

  private retransmitTimeout(nowNs: number): void {
    this.rtxDeadlineNs = Infinity;
    const outstanding = seqLt(this.sndUna, this.sndMax);
    const probe = !outstanding && this.sendBuf.length > 0 && this.sndWnd === 0;
    if (!outstanding && !probe) return;
    if (++this.retries > MAX_RETRIES) {
      this.sendRst();
      this.finish(true);
      return;
    }
    this.rtoNs = Math.min(this.rtoNs * 2, RTO_MAX_NS);
    this.timing = false; // Karn: no RTT sample from a retransmitted segment
    if (this.state === TcpState.SynSent || this.state === TcpState.SynRcvd) {
      this.sendSyn();
      return;
    }
    this.sndNxt = this.sndUna;
    this.finSent = false; // an unacknowledged FIN goes again after the data
    this.transmit(this.sndWnd === 0);
    if (this.rtxDeadlineNs === Infinity && seqLt(this.sndUna, this.sndMax)) this.armRtx(nowNs);
  }

  private rttSample(rNs: number): void {
    this.timing = false;
    if (this.srttNs === 0) {
      this.srttNs = rNs;
      this.rttvarNs = rNs / 2;
    } else {
      this.rttvarNs = 0.75 * this.rttvarNs + 0.25 * Math.abs(this.srttNs - rNs);
      this.srttNs = 0.875 * this.srttNs + 0.125 * rNs;
    }
    this.rtoNs = Math.min(RTO_MAX_NS, Math.max(RTO_MIN_NS, this.srttNs + 4 * this.rttvarNs));
  }

  private ackedSomething(): void {
    this.retries = 0;
    this.rtxDeadlineNs = Infinity;
    if (seqLt(this.sndUna, this.sndMax)) this.armRtx();
  }

  private armRtx(nowNs = this.d.now()): void {
    this.rtxDeadlineNs = nowNs + this.rtoNs;
    this.d.requestTick(this.rtxDeadlineNs);
  }

  private enterTimeWait(): void {
    this.state = TcpState.TimeWait;
    this.rtxDeadlineNs = Infinity;
    this.timeWaitDeadlineNs = this.d.now() + TIME_WAIT_NS;
    this.d.requestTick(this.timeWaitDeadlineNs);
    this.d.finished(this, false);
  }

  private finish(reset: boolean): void {
    if (this.done) return;
    this.done = true;
    this.state = TcpState.Closed;
    this.rtxDeadlineNs = this.timeWaitDeadlineNs = Infinity;
    this.sendBuf.clear();
    this.d.finished(this, reset);
    this.d.removed(this);
  }

  private receiveWindow(): number {
    return Math.max(0, Math.min(0xffff, RCV_BUF_BYTES - (this.host?.pendingBytes ?? 0)));
  }

  private sendSyn(): void {
    const flags = this.state === TcpState.SynSent ? TH_SYN : TH_SYN | TH_ACK;
    this.d.output(this, { srcPort: this.remotePort, dstPort: this.guestPort, seq: this.iss, ack: flags & TH_ACK ? this.rcvNxt : 0, flags, window: this.receiveWindow(), mss: TCP_OUR_MSS });
    this.sndNxt = this.sndMax = seqAdd(this.iss, 1);
    if (this.rtxDeadlineNs === Infinity) this.armRtx();
  }

  private sendAck(): void {
    this.output(TH_ACK, this.sndNxt, this.rcvNxt);
  }

  private sendRst(): void {
    this.output(TH_RST | TH_ACK, this.sndNxt, this.rcvNxt);
  }

  private output(flags: number, seq: number, ack: number, data?: Uint8Array): void {
    const window = flags & TH_RST ? 0 : this.receiveWindow();
    this.lastAdvertisedWindow = window;
    this.d.output(this, { srcPort: this.remotePort, dstPort: this.guestPort, seq, ack, flags, window, ...(data ? { data } : {}) });
  }
}
