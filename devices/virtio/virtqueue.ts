/**
 * A split virtqueue as the device side sees it (virtio 1.1 section 2.6): the descriptor
 * table, the available ring the driver fills and the used ring the device fills, with
 * indirect descriptors (2.6.5.3) and used/avail event suppression (2.6.7, 2.6.10,
 * VIRTIO_F_RING_EVENT_IDX).
 *
 * Everything here reads guest memory the driver controls, so every rule of the
 * specification's "driver requirements" is checked before the device acts on a chain:
 *   - the rings lie in RAM, aligned (2.6: descriptor table 16, avail 2, used 4);
 *   - avail.idx runs at most queue-size entries ahead of the device (2.6.6);
 *   - head and next indices are below the queue size (or the indirect table's length);
 *   - a chain is no longer than the queue size (or the table) — which also rules out loops;
 *   - INDIRECT only when negotiated, never together with NEXT, never inside an indirect
 *     table, and its length a non-zero multiple of 16 (2.6.5.3.1);
 *   - every buffer lies wholly in RAM (one byte past the top is out) and is not empty
 *     (QEMU's "zero sized buffers are not allowed");
 *   - device-writable buffers come after all device-readable ones (2.6.4.2).
 * A broken rule throws VirtqueueError; the transport turns it into DEVICE_NEEDS_RESET.
 * DmaError from the memory (a ring remapped away under us) is turned into VirtqueueError,
 * so nothing but VirtqueueError leaves this file.
 *
 * State: `VirtqueueState` is plain data (the transport saves it with the device).
 */
import { DmaError } from '../../src/memory/physical-memory.js';
import {
  VIRTIO_LEGACY_VRING_ALIGN, VIRTIO_MSI_NO_VECTOR, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE, VIRTQ_DESC_SIZE, VIRTQ_MAX_SIZE,
} from './virtio-constants.js';

/** The guest memory a virtqueue reads and writes (PhysicalMemory). */
export interface GuestMemory {
  /** Throws DmaError when any byte is outside RAM. */
  readBytes(addr: number, len: number): Uint8Array;
  writeBytes(addr: number, data: Uint8Array): void;
  isRam(addr: number, len: number): boolean;
}

/** The driver broke a virtqueue rule; the device must be reset by the driver. */
export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
}

/** Plain-data state of one virtqueue. */
export interface VirtqueueState {
  /** Queue size in use (the device's maximum until a modern driver writes a smaller one). */
  size: number;
  /** queue_enable (modern) or a non-zero PFN (legacy). */
  ready: boolean;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  /** The next avail ring entry the device will take (free-running u16). */
  lastAvailIdx: number;
  /** The device's used.idx (free-running u16). */
  usedIdx: number;
  /** used.idx at the last interrupt decision (EVENT_IDX), or -1 when not yet known. */
  signalledUsed: number;
  /** MSI-X vector for this queue, or VIRTIO_MSI_NO_VECTOR. */
  msixVector: number;
}

export function defaultVirtqueueState(maxSize: number): VirtqueueState {
  return {
    size: maxSize, ready: false, descAddr: 0, availAddr: 0, usedAddr: 0,
    lastAvailIdx: 0, usedIdx: 0, signalledUsed: -1, msixVector: VIRTIO_MSI_NO_VECTOR,
  };
}

/** One guest buffer of a chain. */
export interface Segment {
  addr: number;
  len: number;
}

/** A descriptor chain taken from the avail ring: device-readable, then device-writable buffers. */
export interface DescriptorChain {
  head: number;
  readable: Segment[];
  writable: Segment[];
  readableBytes: number;
  writableBytes: number;
}

/** Features that change how the ring is read. */
export interface RingFeatures {
  indirect: boolean;
  eventIdx: boolean;
}

/** Whether `n` is a valid split-queue size: a power of two from 1 to 32768. */
export function isValidQueueSize(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= VIRTQ_MAX_SIZE && (n & (n - 1)) === 0;
}

/** The legacy layout (2.6.2): avail after the table, used on the next 4 KiB boundary. */
export function legacyRingAddresses(descAddr: number, size: number): { availAddr: number; usedAddr: number } {
  const availAddr = descAddr + VIRTQ_DESC_SIZE * size;
  const availEnd = availAddr + 6 + 2 * size;
  const usedAddr = Math.ceil(availEnd / VIRTIO_LEGACY_VRING_ALIGN) * VIRTIO_LEGACY_VRING_ALIGN;
  return { availAddr, usedAddr };
}

/** vring_need_event (2.6.10): should the new index cross `event`? All values are u16. */
export function vringNeedEvent(event: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

/**
 * The device side of one split virtqueue over `s` (which the transport owns and saves).
 * The ring features are read from `features()` at each call, so that the transport's
 * negotiated set is always the one in force.
 */
export class Virtqueue {
  constructor(
    public s: VirtqueueState,
    private readonly mem: GuestMemory,
    private readonly features: () => RingFeatures,
  ) {}

  /** Checks the ring addresses (called before each use: the driver may rewrite them). */
  private checkRings(): void {
    const s = this.s;
    if (!isValidQueueSize(s.size)) throw new VirtqueueError(`queue size ${s.size} is not a power of two up to ${VIRTQ_MAX_SIZE}`);
    const n = s.size;
    const eventBytes = this.features().eventIdx ? 2 : 0;
    this.checkArea('descriptor table', s.descAddr, VIRTQ_DESC_SIZE * n, 16);
    this.checkArea('avail ring', s.availAddr, 4 + 2 * n + eventBytes, 2);
    this.checkArea('used ring', s.usedAddr, 4 + 8 * n + eventBytes, 4);
  }

  private checkArea(what: string, addr: number, len: number, align: number): void {
    if (!Number.isSafeInteger(addr) || addr % align !== 0) throw new VirtqueueError(`${what} at 0x${addr.toString(16)} is not aligned to ${align}`);
    if (!this.mem.isRam(addr, len)) throw new VirtqueueError(`${what} at 0x${addr.toString(16)} (${len} bytes) is outside RAM`);
  }

  /** How many chains the driver has made available and the device not yet taken. */
  pending(): number {
    return this.guard(() => {
      this.checkRings();
      const availIdx = this.read16(this.s.availAddr + 2);
      const n = (availIdx - this.s.lastAvailIdx) & 0xffff;
      if (n > this.s.size) {
        throw new VirtqueueError(`avail.idx ${availIdx} is ${n} entries ahead of the device's ${this.s.lastAvailIdx} (queue size ${this.s.size})`);
      }
      return n;
    });
  }

  /** Takes the next available chain, or undefined when the ring is empty. */
  pop(): DescriptorChain | undefined {
    if (this.pending() === 0) return undefined;
    return this.guard(() => {
      const s = this.s;
      const head = this.read16(s.availAddr + 4 + 2 * (s.lastAvailIdx % s.size));
      const chain = this.walk(head);
      s.lastAvailIdx = (s.lastAvailIdx + 1) & 0xffff;
      if (this.features().eventIdx) this.write16(s.usedAddr + 4 + 8 * s.size, s.lastAvailIdx); // avail_event
      return chain;
    });
  }

  /** Puts a chain back (the device could not use it now, e.g. a receive buffer too small to try). */
  unpop(): void {
    this.s.lastAvailIdx = (this.s.lastAvailIdx - 1) & 0xffff;
  }

  /** Follows the chain starting at descriptor `head`. */
  private walk(head: number): DescriptorChain {
    const s = this.s;
    const chain: DescriptorChain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
    if (head >= s.size) throw new VirtqueueError(`head descriptor ${head} is not below the queue size ${s.size}`);
    let table = s.descAddr;
    let tableLen = s.size;
    let indirect = false;
    let index = head;
    let count = 0;
    for (;;) {
      if (++count > tableLen) {
        throw new VirtqueueError(indirect ? `indirect chain is longer than its table (${tableLen}) or loops` : `chain from ${head} is longer than the queue size (${tableLen}) or loops`);
      }
      const d = this.mem.readBytes(table + VIRTQ_DESC_SIZE * index, VIRTQ_DESC_SIZE);
      const dv = new DataView(d.buffer, d.byteOffset, VIRTQ_DESC_SIZE);
      const addr = dv.getUint32(0, true) + dv.getUint32(4, true) * 0x1_0000_0000;
      const len = dv.getUint32(8, true);
      const flags = dv.getUint16(12, true);
      const next = dv.getUint16(14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.features().indirect) throw new VirtqueueError('INDIRECT descriptor without VIRTIO_F_RING_INDIRECT_DESC');
        if (indirect) throw new VirtqueueError('INDIRECT descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('descriptor has both INDIRECT and NEXT');
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) throw new VirtqueueError(`indirect table length ${len} is not a non-zero multiple of 16`);
        const entries = len / VIRTQ_DESC_SIZE;
        if (entries > s.size) throw new VirtqueueError(`indirect table of ${entries} descriptors exceeds the queue size ${s.size}`);
        if (!Number.isSafeInteger(addr) || addr % 16 !== 0 || !this.mem.isRam(addr, len)) {
          throw new VirtqueueError(`indirect table at 0x${addr.toString(16)} (${len} bytes) is outside RAM or unaligned`);
        }
        table = addr;
        tableLen = entries;
        indirect = true;
        index = 0;
        count = 0;
        continue;
      }
      if (len === 0) throw new VirtqueueError(`descriptor ${index} has length 0`);
      if (!Number.isSafeInteger(addr + len) || !this.mem.isRam(addr, len)) {
        throw new VirtqueueError(`buffer at 0x${addr.toString(16)} (${len} bytes) is outside RAM`);
      }
      if (flags & VIRTQ_DESC_F_WRITE) {
        chain.writable.push({ addr, len });
        chain.writableBytes += len;
      } else {
        if (chain.writable.length > 0) throw new VirtqueueError('device-readable descriptor after a device-writable one');
        chain.readable.push({ addr, len });
        chain.readableBytes += len;
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) return chain;
      if (next >= tableLen) throw new VirtqueueError(`next descriptor ${next} is not below ${tableLen}`);
      index = next;
    }
  }

  /** Returns chain `head` to the driver with `len` bytes written into its writable buffers. */
  push(head: number, len: number): void {
    this.guard(() => {
      this.checkRings();
      const s = this.s;
      const elem = new Uint8Array(8);
      const dv = new DataView(elem.buffer);
      dv.setUint32(0, head, true);
      dv.setUint32(4, len >>> 0, true);
      this.mem.writeBytes(s.usedAddr + 4 + 8 * (s.usedIdx % s.size), elem);
      s.usedIdx = (s.usedIdx + 1) & 0xffff;
      // The element must be visible before the index (2.6.8.2); our writes are in order.
      this.write16(s.usedAddr + 2, s.usedIdx);
    });
  }

  /**
   * Whether the driver wants an interrupt for the used entries pushed since the last call
   * (QEMU's virtio_should_notify): EVENT_IDX compares with used_event, otherwise avail.flags.
   */
  shouldInterrupt(): boolean {
    return this.guard(() => {
      this.checkRings();
      const s = this.s;
      if (!this.features().eventIdx) return (this.read16(s.availAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
      const old = s.signalledUsed;
      s.signalledUsed = s.usedIdx;
      if (old < 0) return true;
      const usedEvent = this.read16(s.availAddr + 4 + 2 * s.size);
      return vringNeedEvent(usedEvent, s.usedIdx, old);
    });
  }

  /** Runs `f`, turning DmaError into VirtqueueError. */
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof DmaError) throw new VirtqueueError(e.message);
      throw e;
    }
  }

  private read16(addr: number): number {
    const b = this.mem.readBytes(addr, 2);
    return b[0]! | (b[1]! << 8);
  }

  private write16(addr: number, v: number): void {
    this.mem.writeBytes(addr, new Uint8Array([v & 0xff, (v >>> 8) & 0xff]));
  }
}

/** Copies up to `out.length` bytes from the chain's readable buffers, starting `offset` bytes in. */
export function readFromSegments(mem: GuestMemory, segs: readonly Segment[], offset: number, out: Uint8Array): number {
  let done = 0;
  for (const seg of segs) {
    if (done >= out.length) break;
    if (offset >= seg.len) {
      offset -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - offset, out.length - done);
    out.set(mem.readBytes(seg.addr + offset, n), done);
    done += n;
    offset = 0;
  }
  return done;
}

/** Copies `data` into the chain's writable buffers starting `offset` bytes in; returns bytes written. */
export function writeToSegments(mem: GuestMemory, segs: readonly Segment[], offset: number, data: Uint8Array): number {
  let done = 0;
  for (const seg of segs) {
    if (done >= data.length) break;
    if (offset >= seg.len) {
      offset -= seg.len;
      continue;
    }
    const n = Math.min(seg.len - offset, data.length - done);
    mem.writeBytes(seg.addr + offset, data.subarray(done, done + n));
    done += n;
    offset = 0;
  }
  return done;
}
