/**
 * The CPU's memory-management unit: linear-address accesses through the software TLB
 * (tlb.ts), page walks on a miss (paging.ts), #PF with CR2 on a fault, and the fast paths
 * that read and write guest RAM directly from a TLB entry.
 *
 * Every access names a TLB set: 0 for supervisor-mode accesses (CPL 0-2, and the implicit
 * supervisor accesses to the GDT, LDT, IDT and TSS at any CPL — SDM Vol. 3A 4.6), TLB_USER for
 * user-mode accesses (CPL 3). An access that crosses a page boundary translates both pages
 * before touching memory, so that a fault on the second page leaves the first unchanged.
 *
 * `lin` is a linear address as a non-negative number: below 2^32 outside IA-32e mode, below
 * 2^48 (the low 48 bits of a canonical address) in it.
 */
import type { AccessSize } from '../../memory/io-bus.js';
import type { PhysicalMemory } from '../../memory/physical-memory.js';
import { Vec } from './exceptions.js';
import { Access, pagingMode, PagingMode, readPdptes, walk, WalkResult } from './paging.js';
import type { Ept } from './vmx/ept.js';
import { Tlb, TLB_BITS, TLB_MASK, TLB_USER } from './tlb.js';
import type { X86Cpu } from './cpu.js';

const PAGE = 4096;

/** Whether the host stores an Int32Array little-endian, as guest memory is laid out. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export class Mmu {
  readonly tlb = new Tlb();
  private readonly mem: PhysicalMemory;
  private readonly ram: Uint8Array;
  /**
   * The same RAM as 32-bit words, for aligned dword accesses in one load or store; empty when
   * the host is big-endian or the RAM cannot be viewed so (its index must stay below 2^32).
   */
  private readonly ram32: Int32Array;
  /** PhysicalMemory.codePages: RAM pages translated code was made from. */
  private readonly codePages: Uint8Array;
  private readonly walkResult = new WalkResult();
  /**
   * VMX non-root operation with EPT (vmx/ept.ts): guest paging structures are read through it
   * and every guest-physical frame is translated before it enters the TLB.
   */
  ept: Ept | undefined;
  private readonly probeResult = new WalkResult();

  constructor(private readonly cpu: X86Cpu) {
    this.mem = cpu.bus.mem;
    this.ram = this.mem.ram;
    this.codePages = this.mem.codePages;
    const ram = this.ram;
    this.ram32 = HOST_LITTLE_ENDIAN && ram.byteOffset % 4 === 0 && ram.length % 4 === 0 && ram.length <= 2 ** 32
      ? new Int32Array(ram.buffer, ram.byteOffset, ram.length / 4)
      : new Int32Array(0);
  }

  // ============================================================================================
  // Accesses
  // ============================================================================================

  /** Reads `size` bytes at `lin` for TLB set `set` (0 supervisor, TLB_USER user). */
  read(lin: number, size: AccessSize, set: number): number {
    const off = lin & 0xfff;
    const vpn = (lin - off) / PAGE;
    const t = this.tlb;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    if (t.tagRead[i] === vpn && off + size <= PAGE) {
      const r = t.ramOffset[i]!;
      if (r >= 0) {
        const ram = this.ram;
        const a = r + off;
        if (size === 1) return ram[a]!;
        if (size === 2) return ram[a]! | (ram[a + 1]! << 8);
        if ((a & 3) === 0 && this.ram32.length !== 0) return this.ram32[a >>> 2]! >>> 0;
        return (ram[a]! | (ram[a + 1]! << 8) | (ram[a + 2]! << 16) | (ram[a + 3]! << 24)) >>> 0;
      }
    }
    return this.readSlow(lin, size, set);
  }

  /** Writes `size` bytes at `lin` for TLB set `set`. */
  write(lin: number, size: AccessSize, v: number, set: number): void {
    const off = lin & 0xfff;
    const vpn = (lin - off) / PAGE;
    const t = this.tlb;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    if (t.tagWrite[i] === vpn && off + size <= PAGE) {
      const r = t.ramOffset[i]!;
      if (r >= 0) {
        const ram = this.ram;
        const a = r + off;
        if (size === 4 && (a & 3) === 0 && this.ram32.length !== 0) {
          this.ram32[a >>> 2] = v;
        } else {
          ram[a] = v;
          if (size !== 1) {
            ram[a + 1] = v >>> 8;
            if (size !== 2) {
              ram[a + 2] = v >>> 16;
              ram[a + 3] = v >>> 24;
            }
          }
        }
        // Translated code made from this page is stale now (self-modifying code).
        if (this.codePages[r / PAGE] !== 0) this.mem.onCodeWrite?.(a, size);
        return;
      }
    }
    this.writeSlow(lin, size, v, set);
  }

  private readSlow(lin: number, size: AccessSize, set: number): number {
    const off = lin & 0xfff;
    // Pages with a data breakpoint have no fast-path tags, so their accesses all come here.
    if (this.cpu.debug.dataArmed) this.cpu.debug.dataAccess(lin, size, false);
    if (off + size <= PAGE) return this.mem.read(this.physical(lin, Access.Read, set), size);
    // Crosses a page: translate both pages first, then assemble from bytes.
    const first = PAGE - off;
    const pa1 = this.physical(lin, Access.Read, set);
    const pa2 = this.physical(this.nextPage(lin), Access.Read, set);
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.mem.read(k < first ? pa1 + k : pa2 + (k - first), 1) << (8 * k);
    return v >>> 0;
  }

  private writeSlow(lin: number, size: AccessSize, v: number, set: number): void {
    const off = lin & 0xfff;
    if (this.cpu.debug.dataArmed) this.cpu.debug.dataAccess(lin, size, true);
    if (off + size <= PAGE) {
      this.mem.write(this.physical(lin, Access.Write, set), size, v);
      return;
    }
    const first = PAGE - off;
    const pa1 = this.physical(lin, Access.Write, set);
    const pa2 = this.physical(this.nextPage(lin), Access.Write, set);
    for (let k = 0; k < size; k++) this.mem.write(k < first ? pa1 + k : pa2 + (k - first), 1, (v >>> (8 * k)) & 0xff);
  }

  /** Linear address of the page after `lin`'s, wrapping at 4 GiB outside IA-32e mode. */
  private nextPage(lin: number): number {
    const n = lin - (lin & 0xfff) + PAGE;
    return pagingMode(this.cpu.s) === PagingMode.Level4 ? n % 2 ** 48 : n % 4294967296;
  }

  // ============================================================================================
  // Translation
  // ============================================================================================

  /**
   * Physical address of `lin` for `access` in TLB set `set`: from the TLB, or by a page walk
   * that fills it. Raises #PF (CR2 = `lin`) when the access is not allowed.
   */
  physical(lin: number, access: Access, set: number): number {
    const off = lin & 0xfff;
    const vpn = (lin - off) / PAGE;
    const t = this.tlb;
    const i = (set << TLB_BITS) | (vpn & TLB_MASK);
    const tags = access === Access.Read ? t.tagRead : access === Access.Write ? t.tagWrite : t.tagFetch;
    if (tags[i] === vpn) return t.frame[i]! + off;
    return this.fill(lin, vpn, access, set) + off;
  }

  /**
   * Index in guest RAM of `lin` for `access` (translating it: may #PF), or -1 when the page is
   * not RAM. For block fast paths (REP MOVS/STOS) that stay inside the page.
   */
  ramIndex(lin: number, access: Access, set: number): number {
    this.physical(lin, access, set);
    const off = lin & 0xfff;
    const vpn = (lin - off) / PAGE;
    // A data breakpoint on the page: the caller takes the element-wise path, which checks it.
    if (this.cpu.debug.dataArmed && this.cpu.debug.watchesPage(vpn)) return -1;
    const r = this.tlb.ramOffset[(set << TLB_BITS) | (vpn & TLB_MASK)]!;
    return r >= 0 ? r + off : -1;
  }

  /** Walks the page tables for a TLB miss, fills the TLB and returns the frame address. */
  private fill(lin: number, vpn: number, access: Access, set: number): number {
    const cpu = this.cpu;
    const user = set === TLB_USER;
    const r = this.walkResult;
    const ept = this.ept;
    if (ept) ept.linear = lin;
    if (!walk(ept ?? this.mem, cpu.s, lin, access, user, cpu.a20Mask, true, r)) {
      // XXX: in IA-32e mode CR2 must hold the sign-extended 64-bit address; the long-mode
      // work passes the low 48 bits here and extends them.
      // In VMX non-root operation CR2 is written only if the #PF is delivered (vmx-unit.ts).
      if (cpu.vmxNonRoot) cpu.vmx!.pfLinear = lin;
      else cpu.s.cr2 = lin;
      return cpu.raise(Vec.PF, r.errorCode);
    }
    let frame = r.frame;
    let rights = 7;
    if (ept) {
      // The full guest-physical address, so that an EPT violation reports it exactly.
      const off = lin % PAGE;
      frame = ept.translate(frame + off, access, true) - off;
      rights = ept.lastRights;
      ept.linear = -1;
    }
    // A page holding an enabled data breakpoint gets no read/write tags: its data accesses
    // take the slow path, where the breakpoints are checked (debug-exceptions.ts).
    const allowed = !user || r.user;
    const data = allowed && !(cpu.debug.dataArmed && cpu.debug.watchesPage(vpn));
    const ramOffset = this.mem.ramOffsetOf(frame, PAGE);
    this.tlb.fill(set, vpn, frame, ramOffset, data && (rights & 1) !== 0, data && r.writable && r.dirty && (rights & 2) !== 0,
      allowed && !r.nx && (rights & 4) !== 0, r.global, r.pageSize / PAGE);
    return frame;
  }

  /**
   * Physical address of `lin` without side effects (no fault, no A/D, no TLB fill), or -1
   * if the access would fault. For diagnostics, the monitor and debuggers. Uses the TLB if it
   * holds the page (what the CPU would use), else walks the tables as they are in memory.
   */
  probe(lin: number, access: Access, user: boolean): number {
    const off = lin & 0xfff;
    const vpn = (lin - off) / PAGE;
    const t = this.tlb;
    const i = ((user ? TLB_USER : 0) << TLB_BITS) | (vpn & TLB_MASK);
    const tags = access === Access.Read ? t.tagRead : access === Access.Write ? t.tagWrite : t.tagFetch;
    if (tags[i] === vpn) return t.frame[i]! + off;
    const r = this.probeResult;
    return walk(this.mem, this.cpu.s, lin, access, user, this.cpu.a20Mask, false, r) ? r.frame + off : -1;
  }

  // ============================================================================================
  // Invalidation and the PDPTE registers
  // ============================================================================================

  /** INVLPG: drops the translations of the page holding `lin`. */
  invalidatePage(lin: number): void {
    this.tlb.invalidatePage((lin - (lin & 0xfff)) / PAGE);
    this.cpu.invalidateFetch();
  }

  /** MOV to CR3: drops every non-global translation. */
  flushNonGlobal(): void {
    this.tlb.flushNonGlobal();
    this.cpu.invalidateFetch();
  }

  /** Drops every translation (paging-mode changes, A20, reset, snapshot load). */
  flushAll(): void {
    this.tlb.flushAll();
    this.cpu.invalidateFetch();
  }

  /**
   * Loads the PAE PDPTE registers from the table at `cr3` (SDM 4.4.1). Returns false, leaving
   * the registers unchanged, if a present PDPTE has a reserved bit set: the caller raises #GP(0).
   */
  loadPdptes(cr3: number): boolean {
    return readPdptes(this.ept ?? this.mem, cr3, this.cpu.a20Mask, this.cpu.s.pdpte);
  }

  /** Whether PAE paging (with PDPTE registers) is in use under the current registers. */
  paePagingActive(): boolean {
    return pagingMode(this.cpu.s) === PagingMode.Pae;
  }
}
