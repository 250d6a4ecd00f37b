/**
 * The guest-physical address space: RAM, ROM and MMIO regions, found through a page-indexed
 * table (4 KiB pages below 4 GiB) so that a lookup is two array reads and no search.
 *
 * RAM is one ArrayBuffer. Below 4 GiB it may be laid out in pieces around holes (the VGA
 * window, the PCI hole); above 4 GiB a single contiguous piece continues it. ROM regions have
 * their own buffers and ignore writes. MMIO regions dispatch to a handler with an offset.
 *
 * Not implemented: more than one MMIO region inside the same 4 KiB page (a wiring error), and
 * memory aliasing beyond the explicit ROM alias the board asks for.
 */
import { WiringError } from '../errors.js';
import type { AccessSize } from './io-bus.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGES_BELOW_4G = 1 << 20;
const FOUR_GIB = 0x1_0000_0000;

/** What occupies a page of the physical address space. */
export const enum PageKind {
  Unassigned = 0,
  Ram = 1,
  Rom = 2,
  Mmio = 3,
}

/** A device's memory-mapped registers. Offsets are relative to the region's base. */
export interface MmioHandler {
  mmioRead(offset: number, size: AccessSize): number;
  mmioWrite(offset: number, size: AccessSize, value: number): void;
}

interface MmioRegion {
  readonly name: string;
  /** Mutable only for a movable page (see mapMovableMmioPage). */
  base: number;
  readonly size: number;
  readonly handler: MmioHandler;
}

interface RomRegion {
  readonly name: string;
  readonly base: number;
  readonly data: Uint8Array;
}

/** Little-endian load of 1, 2 or 4 bytes at `i` (small enough for V8 to inline). */
function loadLE(b: Uint8Array, i: number, size: AccessSize): number {
  if (size === 1) return b[i]!;
  if (size === 2) return b[i]! | (b[i + 1]! << 8);
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function storeLE(b: Uint8Array, i: number, size: AccessSize, value: number): void {
  b[i] = value;
  if (size === 1) return;
  b[i + 1] = value >>> 8;
  if (size === 2) return;
  b[i + 2] = value >>> 16;
  b[i + 3] = value >>> 24;
}

/** A one-page MMIO window placed with `moveTo(base)` and removed with `moveTo(undefined)`. */
export interface MovableMmioPage {
  moveTo(base: number | undefined): void;
}

/** One entry of `PhysicalMemory.regions()`. */
export interface MemoryMapRegion {
  kind: 'ram' | 'rom' | 'mmio';
  name: string;
  base: number;
  size: number;
  /** Offset of a RAM piece in the RAM buffer; -1 for ROM and MMIO. */
  ramOffset: number;
}

/** A guest tried to DMA outside RAM. Devices turn this into a device error, never a crash. */
export class DmaError extends Error {
  override readonly name = 'DmaError';
}

export class PhysicalMemory {
  /** All of guest RAM. Exposed for the CPU's fast paths and for snapshots. */
  readonly ram: Uint8Array;
  /** Page number (below 4 GiB) → PageKind. */
  readonly pageKind = new Uint8Array(PAGES_BELOW_4G);
  /**
   * Page number → where it lives: for RAM the byte offset of the page in `ram` divided by
   * PAGE_SIZE; for ROM and MMIO an index into `roms` / `mmios`.
   */
  readonly pageRef = new Uint32Array(PAGES_BELOW_4G);
  private readonly roms: RomRegion[] = [];
  /** MMIO regions by index; an unmapped region leaves an empty slot (pages never point at it). */
  private readonly mmios: (MmioRegion | undefined)[] = [];
  /** RAM above 4 GiB: [FOUR_GIB, FOUR_GIB + highRamBytes) maps to ram[highRamOffset...]. */
  private highRamBytes = 0;
  private highRamOffset = 0;
  /** Observer for accesses that hit nothing (tracing only). */
  onUnassigned: ((addr: number, size: AccessSize, write: boolean) => void) | undefined;
  /**
   * One byte per 4 KiB page of `ram`: non-zero while translated code made from that page
   * exists (the JIT's blocks). Every write path into RAM checks it and calls `onCodeWrite`
   * with the RAM index and length of the write, so that stale code is dropped before it can
   * run again.
   */
  readonly codePages: Uint8Array;
  onCodeWrite: ((ramIndex: number, length: number) => void) | undefined;

  constructor(readonly ramBytes: number) {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % PAGE_SIZE !== 0) {
      throw new WiringError(`RAM size ${ramBytes} is not a positive multiple of 4 KiB`);
    }
    this.ram = new Uint8Array(ramBytes);
    this.codePages = new Uint8Array(ramBytes / PAGE_SIZE);
  }

  /** Tells the code-page observer that RAM bytes `[ramOffset, ramOffset + len)` were written. */
  noteRamWrite(ramOffset: number, len: number): void {
    const first = Math.floor(ramOffset / PAGE_SIZE);
    const last = Math.floor((ramOffset + Math.max(len, 1) - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) {
      if (this.codePages[p] !== 0) {
        // The observer looks at every page of the range itself.
        this.onCodeWrite?.(ramOffset, len);
        return;
      }
    }
  }

  /** Maps RAM bytes `[ramOffset, ramOffset + size)` at guest-physical `base`. */
  mapRam(base: number, size: number, ramOffset: number): void {
    this.checkRange('RAM', base, size, true);
    if (ramOffset < 0 || ramOffset + size > this.ramBytes || ramOffset % PAGE_SIZE !== 0) {
      throw new WiringError(`RAM piece at 0x${base.toString(16)} lies outside the RAM buffer`);
    }
    if (base >= FOUR_GIB) {
      if (base !== FOUR_GIB || this.highRamBytes !== 0) throw new WiringError('RAM above 4 GiB must be one piece at 4 GiB');
      this.highRamBytes = size;
      this.highRamOffset = ramOffset;
      return;
    }
    const first = base >>> PAGE_SHIFT;
    for (let i = 0; i < size / PAGE_SIZE; i++) {
      this.claim(first + i, 'RAM');
      this.pageKind[first + i] = PageKind.Ram;
      this.pageRef[first + i] = ramOffset / PAGE_SIZE + i;
    }
  }

  /** Maps a read-only image at `base` (both page aligned in size and place). */
  mapRom(name: string, base: number, data: Uint8Array): void {
    this.checkRange(name, base, data.length, true);
    const index = this.roms.length;
    this.roms.push({ name, base, data });
    const first = base >>> PAGE_SHIFT;
    for (let i = 0; i < data.length / PAGE_SIZE; i++) {
      this.claim(first + i, name);
      this.pageKind[first + i] = PageKind.Rom;
      this.pageRef[first + i] = index;
    }
  }

  /** Maps a device's registers at `[base, base + size)`; the region may be smaller than a page. */
  mapMmio(name: string, base: number, size: number, handler: MmioHandler): void {
    this.checkRange(name, base, size, false);
    if (base >= FOUR_GIB) throw new WiringError(`${name}: MMIO above 4 GiB is not supported`);
    const first = base >>> PAGE_SHIFT;
    const last = (base + size - 1) >>> PAGE_SHIFT;
    // Check every page before changing any, so that a refused mapping leaves nothing behind.
    for (let p = first; p <= last; p++) this.claim(p, name);
    const index = this.mmios.length;
    this.mmios.push({ name, base, size, handler });
    for (let p = first; p <= last; p++) {
      this.pageKind[p] = PageKind.Mmio;
      this.pageRef[p] = index;
    }
  }

  /**
   * Registers a one-page MMIO window that can move and vanish at run time and, while present,
   * hides whatever lies beneath it (RAM, ROM, another device, nothing), which reappears when it
   * moves away. This is the local APIC's page: IA32_APIC_BASE relocates it and its global
   * enable bit removes it (SDM Vol. 3A 10.4.4, 10.4.5). The window starts absent.
   */
  mapMovableMmioPage(name: string, handler: MmioHandler): MovableMmioPage {
    const index = this.mmios.length;
    const region: MmioRegion = { name, base: 0, size: PAGE_SIZE, handler };
    this.mmios.push(region);
    let page = -1;
    let savedKind = PageKind.Unassigned;
    let savedRef = 0;
    return {
      moveTo: (base: number | undefined) => {
        if (page >= 0) {
          this.pageKind[page] = savedKind;
          this.pageRef[page] = savedRef;
          page = -1;
        }
        if (base === undefined) return;
        if (!Number.isInteger(base) || base < 0 || base >= FOUR_GIB || base % PAGE_SIZE !== 0) {
          throw new WiringError(`${name}: movable page at 0x${base.toString(16)} is not a page below 4 GiB`);
        }
        page = base >>> PAGE_SHIFT;
        savedKind = this.pageKind[page] as PageKind;
        savedRef = this.pageRef[page]!;
        this.pageKind[page] = PageKind.Mmio;
        this.pageRef[page] = index;
        region.base = base;
      },
    };
  }

  /** Removes the MMIO region named `name` (PCI BAR reprogramming); its pages become unassigned. */
  unmapMmio(name: string): void {
    const index = this.mmios.findIndex((m) => m?.name === name);
    if (index < 0) return;
    const m = this.mmios[index]!;
    const first = m.base >>> PAGE_SHIFT;
    const last = (m.base + m.size - 1) >>> PAGE_SHIFT;
    for (let p = first; p <= last; p++) {
      this.pageKind[p] = PageKind.Unassigned;
      this.pageRef[p] = 0;
    }
    this.mmios[index] = undefined;
  }

  /**
   * The current map as regions in address order, for the monitor's `info mtree`: RAM pieces
   * (with their offset in the RAM buffer), ROMs and MMIO regions (a movable page where it is).
   */
  regions(): MemoryMapRegion[] {
    const out: MemoryMapRegion[] = [];
    let p = 0;
    while (p < PAGES_BELOW_4G) {
      const kind = this.pageKind[p] as PageKind;
      const ref = this.pageRef[p]!;
      if (kind === PageKind.Ram) {
        let q = p + 1;
        while (q < PAGES_BELOW_4G && this.pageKind[q] === PageKind.Ram && this.pageRef[q] === ref + (q - p)) q++;
        out.push({ kind: 'ram', name: 'ram', base: p * PAGE_SIZE, size: (q - p) * PAGE_SIZE, ramOffset: ref * PAGE_SIZE });
        p = q;
        continue;
      }
      if (kind === PageKind.Rom || kind === PageKind.Mmio) {
        let q = p + 1;
        while (q < PAGES_BELOW_4G && this.pageKind[q] === kind && this.pageRef[q] === ref) q++;
        if (kind === PageKind.Rom) {
          out.push({ kind: 'rom', name: this.roms[ref]!.name, base: p * PAGE_SIZE, size: (q - p) * PAGE_SIZE, ramOffset: -1 });
        } else {
          const m = this.mmios[ref]!;
          out.push({ kind: 'mmio', name: m.name, base: m.base, size: m.size, ramOffset: -1 });
        }
        p = q;
        continue;
      }
      p++;
    }
    if (this.highRamBytes > 0) out.push({ kind: 'ram', name: 'ram', base: FOUR_GIB, size: this.highRamBytes, ramOffset: this.highRamOffset });
    return out;
  }

  /** True when `[addr, addr + len)` lies wholly in RAM (for DMA checks). */
  isRam(addr: number, len: number): boolean {
    return this.ramOffsetOf(addr, len) >= 0;
  }

  /**
   * Byte offset in `ram` of the guest-physical range `[addr, addr + len)`, or -1 if any part
   * of it is not RAM or the pieces are not contiguous in the buffer.
   */
  ramOffsetOf(addr: number, len: number): number {
    if (!(addr >= 0) || !(len >= 0) || !Number.isSafeInteger(addr + len)) return -1;
    if (addr >= FOUR_GIB) {
      const off = addr - FOUR_GIB;
      return off + len <= this.highRamBytes ? this.highRamOffset + off : -1;
    }
    if (len === 0) len = 1;
    const first = Math.floor(addr / PAGE_SIZE);
    const last = Math.floor((addr + len - 1) / PAGE_SIZE);
    if (last >= PAGES_BELOW_4G) return -1;
    if (this.pageKind[first] !== PageKind.Ram) return -1;
    const start = this.pageRef[first]! * PAGE_SIZE + (addr % PAGE_SIZE);
    for (let p = first + 1; p <= last; p++) {
      if (this.pageKind[p] !== PageKind.Ram || this.pageRef[p] !== this.pageRef[first]! + (p - first)) return -1;
    }
    return start;
  }

  /**
   * The buffer that holds the 4 KiB page at `addr` when it is RAM or ROM, for the CPU's
   * instruction fetch (reads only: ROM must still ignore writes), or undefined for MMIO and
   * unassigned pages. `directOffset(addr)` is where the page starts in that buffer.
   */
  directBuffer(addr: number): Uint8Array | undefined {
    if (addr >= FOUR_GIB) return this.ramOffsetOf(addr, PAGE_SIZE) >= 0 ? this.ram : undefined;
    const page = addr >>> PAGE_SHIFT;
    switch (this.pageKind[page]) {
      case PageKind.Ram: return this.ram;
      case PageKind.Rom: return this.roms[this.pageRef[page]!]!.data;
      default: return undefined;
    }
  }

  /** Offset of the page holding `addr` in `directBuffer(addr)`. */
  directOffset(addr: number): number {
    if (addr >= FOUR_GIB) return this.ramOffsetOf(addr - (addr % PAGE_SIZE), PAGE_SIZE);
    const page = addr >>> PAGE_SHIFT;
    if (this.pageKind[page] === PageKind.Ram) return this.pageRef[page]! * PAGE_SIZE;
    const rom = this.roms[this.pageRef[page]!]!;
    return page * PAGE_SIZE - rom.base;
  }

  // --- CPU and device accesses -------------------------------------------------------------

  read(addr: number, size: AccessSize): number {
    if (addr < FOUR_GIB) {
      const page = addr >>> PAGE_SHIFT;
      const off = addr & (PAGE_SIZE - 1);
      if (off + size <= PAGE_SIZE) {
        switch (this.pageKind[page]) {
          case PageKind.Ram:
            return loadLE(this.ram, this.pageRef[page]! * PAGE_SIZE + off, size);
          case PageKind.Rom: {
            const rom = this.roms[this.pageRef[page]!]!;
            return loadLE(rom.data, addr - rom.base, size);
          }
          case PageKind.Mmio: {
            const m = this.mmios[this.pageRef[page]!]!;
            const o = addr - m.base;
            if (o >= 0 && o + size <= m.size) return m.handler.mmioRead(o, size) >>> 0;
            break;
          }
        }
        if (size === 1 || this.pageKind[page] !== PageKind.Mmio) {
          this.onUnassigned?.(addr, size, false);
          return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
        }
      }
    } else {
      const o = this.ramOffsetOf(addr, size);
      if (o >= 0) return loadLE(this.ram, o, size);
      if (size === 1) {
        this.onUnassigned?.(addr, size, false);
        return 0xff;
      }
    }
    // Crosses a page or straddles a region's end: assemble from bytes.
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.read(addr + i, 1) << (8 * i);
    return v >>> 0;
  }

  write(addr: number, size: AccessSize, value: number): void {
    if (addr < FOUR_GIB) {
      const page = addr >>> PAGE_SHIFT;
      const off = addr & (PAGE_SIZE - 1);
      if (off + size <= PAGE_SIZE) {
        switch (this.pageKind[page]) {
          case PageKind.Ram: {
            const ramPage = this.pageRef[page]!;
            storeLE(this.ram, ramPage * PAGE_SIZE + off, size, value);
            if (this.codePages[ramPage] !== 0) this.onCodeWrite?.(ramPage * PAGE_SIZE + off, size);
            return;
          }
          case PageKind.Rom:
            return; // ROM ignores writes, as the chip does
          case PageKind.Mmio: {
            const m = this.mmios[this.pageRef[page]!]!;
            const o = addr - m.base;
            if (o >= 0 && o + size <= m.size) {
              m.handler.mmioWrite(o, size, value >>> 0);
              return;
            }
            break;
          }
        }
        if (size === 1 || this.pageKind[page] !== PageKind.Mmio) {
          this.onUnassigned?.(addr, size, true);
          return;
        }
      }
    } else {
      const o = this.ramOffsetOf(addr, size);
      if (o >= 0) {
        storeLE(this.ram, o, size, value);
        this.noteRamWrite(o, size);
        return;
      }
      if (size === 1) {
        this.onUnassigned?.(addr, size, true);
        return;
      }
    }
    for (let i = 0; i < size; i++) this.write(addr + i, 1, (value >>> (8 * i)) & 0xff);
  }

  // --- Bounds-checked DMA for devices ------------------------------------------------------

  /** Copies guest RAM `[addr, addr + len)` out. Throws DmaError if any byte is not RAM. */
  readBytes(addr: number, len: number): Uint8Array {
    const off = this.dmaOffset(addr, len);
    return this.ram.slice(off, off + len);
  }

  /** Copies `data` into guest RAM at `addr`. Throws DmaError if any byte is not RAM. */
  writeBytes(addr: number, data: Uint8Array): void {
    const off = this.dmaOffset(addr, data.length);
    this.ram.set(data, off);
    this.noteRamWrite(off, data.length);
  }

  private dmaOffset(addr: number, len: number): number {
    const off = this.ramOffsetOf(addr, len);
    if (off < 0) {
      throw new DmaError(`DMA of ${len} bytes at 0x${addr.toString(16)} is outside guest RAM`);
    }
    return off;
  }

  private checkRange(name: string, base: number, size: number, pageAligned: boolean): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(size) || base < 0 || size <= 0) {
      throw new WiringError(`${name}: bad region 0x${base.toString(16)}+0x${size.toString(16)}`);
    }
    if (pageAligned && (base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0)) {
      throw new WiringError(`${name}: region 0x${base.toString(16)}+0x${size.toString(16)} is not page aligned`);
    }
    if (base < FOUR_GIB && base + size > FOUR_GIB) {
      throw new WiringError(`${name}: region crosses the 4 GiB boundary`);
    }
  }

  private claim(page: number, name: string): void {
    if (this.pageKind[page] !== PageKind.Unassigned) {
      throw new WiringError(`${name}: page 0x${(page * PAGE_SIZE).toString(16)} is already mapped (${this.describe(page)})`);
    }
  }

  private describe(page: number): string {
    switch (this.pageKind[page]) {
      case PageKind.Ram: return 'RAM';
      case PageKind.Rom: return this.roms[this.pageRef[page]!]!.name;
      case PageKind.Mmio: return this.mmios[this.pageRef[page]!]?.name ?? 'MMIO';
      default: return 'nothing';
    }
  }
}
