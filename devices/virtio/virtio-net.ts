/**
 * virtio-net (virtio 1.1 section 5.1): receive queue 0, transmit queue 1, over a NetBackend.
 *
 * Features: VIRTIO_NET_F_MAC (the configured address), VIRTIO_NET_F_STATUS (link always up),
 * VIRTIO_NET_F_MRG_RXBUF (a received frame may span several receive chains, 5.1.6.3.2).
 * XXX: no checksum or segmentation offload (CSUM, GUEST_CSUM, TSO…) and no control queue:
 * the driver computes checksums itself, which Linux does when CSUM is not offered.
 *
 * Every frame carries a virtio_net_hdr (5.1.6): 12 bytes with VERSION_1 or MRG_RXBUF
 * (num_buffers included), 10 bytes for a legacy driver without MRG_RXBUF. Transmit strips
 * it; receive writes one with no offloads and, when merging, the number of chains used.
 *
 * Flow control: frames from the back end arrive through `NetPeer.receive`; when the guest
 * has no receive buffer the NIC answers false and the back end keeps the frame in its own
 * bounded queue (NET_QUEUE_MAX_FRAMES) until `receiveReady()`, which the NIC calls whenever
 * the driver adds receive buffers. Transmit runs when the driver notifies queue 1; one
 * notification handles at most a queue's worth of chains (the avail ring cannot hold more).
 */
import type { NetBackend, NetPeer } from '../../src/net/net-backend.js';
import { expectRecord, expectVersion } from '../../src/snapshot/validate.js';
import { F_VERSION_1, featureBit, hasFeature } from './virtio-constants.js';
import { VirtqueueError, readFromSegments, writeToSegments, type DescriptorChain } from './virtqueue.js';
import type { VirtioDeviceModel, VirtioTransport } from './virtio-device.js';

export const VIRTIO_ID_NET = 1;
/** PCI class of QEMU's virtio-net-pci: network, Ethernet. */
export const VIRTIO_NET_PCI_CLASS = 0x020000;

export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_QUEUE_SIZE = 256;
export const VIRTIO_NET_RX_QUEUE = 0;
export const VIRTIO_NET_TX_QUEUE = 1;
/** Configuration: mac[6], status (5.1.4). */
export const VIRTIO_NET_CONFIG_SIZE = 8;
/** The largest frame either way: a 64 KiB IP packet plus Ethernet and VLAN headers. */
export const VIRTIO_NET_MAX_FRAME = 65536 + 18;
const HDR_NUM_BUFFERS = 10;

export interface VirtioNetOptions {
  /** The six bytes of the MAC address. */
  mac: readonly number[];
  /** The netdev; absent for a NIC without a peer (frames sent are dropped). */
  backend?: NetBackend;
}

export class VirtioNet implements VirtioDeviceModel, NetPeer {
  readonly deviceType = VIRTIO_ID_NET;
  readonly queueMaxSizes = [VIRTIO_NET_QUEUE_SIZE, VIRTIO_NET_QUEUE_SIZE];
  readonly deviceFeatures = featureBit(VIRTIO_NET_F_MAC) | featureBit(VIRTIO_NET_F_MRG_RXBUF) | featureBit(VIRTIO_NET_F_STATUS);
  readonly configSize = VIRTIO_NET_CONFIG_SIZE;
  readonly stateVersion = 1;
  private transport!: VirtioTransport;
  private readonly config = new Uint8Array(VIRTIO_NET_CONFIG_SIZE);
  /** Frames received and transmitted (info, tests). */
  rxFrames = 0;
  txFrames = 0;

  constructor(private readonly opts: VirtioNetOptions) {
    if (opts.mac.length !== 6) throw new RangeError('virtio-net: a MAC address has 6 bytes');
    this.config.set(opts.mac);
    this.config[6] = VIRTIO_NET_S_LINK_UP;
    opts.backend?.attach(this);
  }

  get backend(): NetBackend | undefined {
    return this.opts.backend;
  }

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = 0; i < size; i++) v += this.config[offset + i]! * 2 ** (8 * i);
    return v;
  }

  writeConfig(offset: number, _size: 1 | 2 | 4, value: number): void {
    // The MAC is writable for legacy drivers without VIRTIO_NET_F_CTRL_MAC_ADDR (5.1.4.2);
    // we keep it fixed, as QEMU does for modern drivers.
    this.transport.guestError(`virtio-net: config write of 0x${value.toString(16)} at ${offset} ignored`);
  }

  private get headerBytes(): number {
    const f = this.transport.negotiated;
    return hasFeature(f, F_VERSION_1) || hasFeature(f, VIRTIO_NET_F_MRG_RXBUF) ? 12 : 10;
  }

  processQueue(index: number): void {
    if (index === VIRTIO_NET_RX_QUEUE) {
      // New receive buffers: let the back end deliver what it holds.
      this.opts.backend?.receiveReady();
    } else if (index === VIRTIO_NET_TX_QUEUE) {
      this.transmit();
    }
  }

  private transmit(): void {
    const vq = this.transport.queue(VIRTIO_NET_TX_QUEUE);
    const hdr = this.headerBytes;
    let done = 0;
    try {
      for (let chain = vq.pop(); chain; chain = vq.pop()) {
        if (chain.readableBytes < hdr) throw new VirtqueueError(`virtio-net: transmit chain of ${chain.readableBytes} bytes has no header`);
        const len = chain.readableBytes - hdr;
        if (len > VIRTIO_NET_MAX_FRAME) {
          this.transport.guestError(`virtio-net: ${len}-byte frame dropped`);
        } else {
          const frame = new Uint8Array(len);
          readFromSegments(this.transport.mem, chain.readable, hdr, frame);
          this.txFrames++;
          this.opts.backend?.send(frame);
        }
        vq.push(chain.head, 0);
        done++;
      }
    } finally {
      if (done > 0) this.transport.interruptQueue(VIRTIO_NET_TX_QUEUE);
    }
  }

  // --- NetPeer -------------------------------------------------------------------------------

  canReceive(): boolean {
    const t = this.transport;
    if (!t.running) return false;
    const vq = t.queue(VIRTIO_NET_RX_QUEUE);
    if (!vq.s.ready) return false;
    return t.guarded(() => vq.pending() > 0, false);
  }

  receive(frame: Uint8Array): boolean {
    if (!this.canReceive()) return false;
    if (frame.length > VIRTIO_NET_MAX_FRAME) return true; // dropped: nothing could hold it
    return this.transport.guarded(() => this.receiveFrame(frame), true);
  }

  private receiveFrame(frame: Uint8Array): boolean {
    const t = this.transport;
    const vq = t.queue(VIRTIO_NET_RX_QUEUE);
    const mergeable = hasFeature(t.negotiated, VIRTIO_NET_F_MRG_RXBUF);
    const hdrLen = this.headerBytes;
    const packet = new Uint8Array(hdrLen + frame.length);
    packet.set(frame, hdrLen); // flags, gso_type, hdr_len, gso_size, csum_*: all zero
    const chains: DescriptorChain[] = [];
    let room = 0;
    while (room < packet.length) {
      const chain = vq.pop();
      if (!chain) {
        // Not enough buffers yet: give them back and let the back end keep the frame.
        for (let i = 0; i < chains.length; i++) vq.unpop();
        return false;
      }
      if (chain.readable.length > 0) throw new VirtqueueError('virtio-net: receive chain has device-readable buffers');
      chains.push(chain);
      room += chain.writableBytes;
      if (!mergeable) break;
    }
    // num_buffers (12-byte header only); 1 when not merging (5.1.6.3.2).
    if (hdrLen === 12) {
      packet[HDR_NUM_BUFFERS] = chains.length & 0xff;
      packet[HDR_NUM_BUFFERS + 1] = chains.length >>> 8;
    }
    if (!mergeable && room < packet.length) {
      t.guestError(`virtio-net: ${packet.length}-byte packet truncated to the ${room}-byte receive buffer`);
    }
    let off = 0;
    for (const chain of chains) {
      const n = writeToSegments(t.mem, chain.writable, 0, packet.subarray(off, off + chain.writableBytes));
      vq.push(chain.head, n);
      off += n;
    }
    this.rxFrames++;
    t.interruptQueue(VIRTIO_NET_RX_QUEUE);
    return true;
  }

  reset(): void {}

  saveState(): Record<string, never> {
    return {};
  }

  validateState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, 'virtio-net');
    expectRecord(state, 'virtio-net');
  }

  loadState(state: unknown, version: number): void {
    this.validateState(state, version);
  }
}

/** "52:54:00:12:34:56" → bytes, or undefined when malformed. */
export function parseMac(text: string): number[] | undefined {
  const parts = text.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return parts.map((p) => parseInt(p, 16));
}

export function formatMac(mac: readonly number[]): string {
  return mac.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
