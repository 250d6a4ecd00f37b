/**
 * The bounded queue of frames on their way to the guest's NIC, shared by every back end.
 *
 * Frames wait here while the NIC has no free receive buffer (`NetPeer.canReceive`) or none is
 * attached yet; `flush()` runs when the NIC calls `receiveReady()`. At NET_QUEUE_MAX_FRAMES the
 * queue refuses more (`push` returns false): a host peer flooding the guest costs at most that
 * many frames of memory. Back ends with a stream source pause it instead of dropping (see
 * `hasRoom`), as QEMU stops reading a socket whose peer cannot receive.
 */

import { NET_QUEUE_MAX_FRAMES, type NetPeer } from './net-backend.js';

export class GuestFrameQueue {
  private peer: NetPeer | undefined;
  private frames: Uint8Array[] = [];
  private head = 0;
  /** Frames refused because the queue was full (for tests and `info` output). */
  dropped = 0;

  constructor(private readonly maxFrames = NET_QUEUE_MAX_FRAMES, private readonly onDrained: () => void = () => {}) {}

  attach(peer: NetPeer): void {
    this.peer = peer;
    this.flush();
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  /** Whether `push` would accept a frame now. */
  get hasRoom(): boolean {
    return this.length < this.maxFrames;
  }

  /** Delivers at once if the NIC can take it and nothing is waiting; else queues. False = dropped (full). */
  push(frame: Uint8Array): boolean {
    if (this.length === 0 && this.peer?.canReceive() && this.peer.receive(frame)) return true;
    if (!this.hasRoom) {
      this.dropped++;
      return false;
    }
    this.frames.push(frame);
    return true;
  }

  /** Hands queued frames to the NIC while it takes them; tells the owner once there is room again. */
  flush(): void {
    const peer = this.peer;
    if (peer) {
      while (this.head < this.frames.length && peer.canReceive()) {
        if (!peer.receive(this.frames[this.head]!)) break;
        this.frames[this.head++] = EMPTY;
      }
      if (this.head > 64 && this.head * 2 >= this.frames.length) {
        this.frames = this.frames.slice(this.head);
        this.head = 0;
      }
    }
    if (this.hasRoom) this.onDrained();
  }

  clear(): void {
    this.frames = [];
    this.head = 0;
  }
}

const EMPTY = new Uint8Array(0);
