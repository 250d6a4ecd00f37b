/**
 * Page walkers: linear → physical translation through the paging structures in guest memory
 * (Intel SDM Vol. 3A chapter 4), with the access-rights rules of 4.6, the accessed and dirty
 * flags of 4.8 and the page-fault error code of 4.7.
 *
 *  - 32-bit paging (4.3): 4 KiB pages and, with CR4.PSE, 4 MiB pages. PSE-36 is not
 *    implemented (not advertised), so bits 21:13 of a 4 MiB PDE are reserved.
 *  - PAE paging (4.4): the four PDPTE registers (loaded by `loadPdptes` on MOV to CR0/CR3/CR4),
 *    4 KiB and 2 MiB pages, execute-disable with IA32_EFER.NXE.
 *  - 4-level (IA-32e) paging (4.5): 4 KiB, 2 MiB and 1 GiB pages, for a 48-bit linear address
 *    passed as a non-negative JS number below 2^48 (the caller checks canonicality).
 *
 * The walkers are pure functions of the paging registers and guest memory, so that the CPU,
 * the monitor (`info tlb`, `info mem`, gdbstub reads) and later EPT can share them. They do not
 * throw: a fault is returned as a #PF error code. With `setBits` the accessed and dirty flags
 * are written — only when the access succeeds, as QEMU does; a probe leaves memory alone.
 *
 * Not implemented (not advertised in CPUID, so the corresponding bits are reserved or the
 * CR4 bits cannot be set): PSE-36, SMEP, SMAP, protection keys, PCIDs, 5-level paging.
 * Memory types (PCD, PWT, and the PAT bit selecting an IA32_PAT entry) have no effect in an
 * emulator.
 */
import { Cr0, Cr4, Efer } from './state.js';
import { MAXPHYADDR } from './cpu-model.js';

export { MAXPHYADDR };
/**
 * The page attribute table exists (CPUID.1:EDX.PAT), so the PAT bit of 32-bit and PAE
 * entries is an address-free attribute bit, not a reserved one (SDM Tables 4-4, 4-6, 4-9, 4-11).
 */
export const PAT_SUPPORTED = true;

/** Page-fault error code bits (SDM Vol. 3A 4.7, Figure 4-12). */
export const enum PfErr {
  /** 0: not-present page; 1: protection violation (or reserved bit). */
  P = 1 << 0,
  /** The access was a write. */
  W = 1 << 1,
  /** The access was a user-mode access. */
  U = 1 << 2,
  /** A reserved bit was set in some paging-structure entry. */
  RSVD = 1 << 3,
  /** Instruction fetch (reported only with PAE/4-level paging and EFER.NXE, or SMEP). */
  ID = 1 << 4,
}

/** The kind of access being translated. */
export const enum Access {
  Read = 0,
  Write = 1,
  Fetch = 2,
}

/** Paging-structure entry bits (the low dword; XD is bit 31 of the high dword). */
const enum Pte {
  P = 1 << 0, RW = 1 << 1, US = 1 << 2, A = 1 << 5, D = 1 << 6, PS = 1 << 7, G = 1 << 8,
  /** PAT bit of a large-page entry (bit 12). */
  PAT_LARGE = 1 << 12,
  /** PAT bit of a 4 KiB PTE (bit 7, where PS is in a directory entry). */
  PAT_4K = 1 << 7,
}
/** XD in the high dword of a 64-bit entry. */
const HI_XD = 1 << 31;
/** High-dword bits 51:MAXPHYADDR (4-level) and 62:MAXPHYADDR (PAE), reserved. */
const HI_RSVD_4LEVEL = (0x000fffff & ~((1 << (MAXPHYADDR - 32)) - 1)) >>> 0;
const HI_RSVD_PAE = (0x7fffffff & ~((1 << (MAXPHYADDR - 32)) - 1)) >>> 0;
/** High-dword bits that hold physical-address bits MAXPHYADDR-1:32. */
const HI_ADDR = (1 << (MAXPHYADDR - 32)) - 1;
const TWO_32 = 4294967296;

/** The registers a walk depends on: a CpuState, or a VMCS's guest fields. */
export interface PagingRegs {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  /** PDPTE registers as (low, high) dword pairs: pdpte[2i], pdpte[2i + 1]. */
  readonly pdpte: Uint32Array;
}

/** Where paging structures are read and written (guest-physical memory; EPT can wrap it). */
export interface PagingMemory {
  read(addr: number, size: 4): number;
  write(addr: number, size: 4, value: number): void;
}

/** The outcome of a walk (one preallocated instance per user; fields are overwritten). */
export class WalkResult {
  /** Physical address of the 4 KiB frame holding the linear address (page offset excluded). */
  frame = 0;
  /** Size of the mapping in bytes: 4 KiB, 2 MiB, 4 MiB or 1 GiB (4 KiB with paging off). */
  pageSize = 0;
  /** User-mode accesses allowed (U/S = 1 at every level). */
  user = false;
  /** Writes allowed by R/W at every level (supervisor writes also when CR0.WP = 0). */
  writable = false;
  /** Execute-disable set at some level (with EFER.NXE). */
  nx = false;
  /** Global translation (G in the leaf entry with CR4.PGE = 1). */
  global = false;
  /** The leaf entry's dirty flag is set (after the walk). */
  dirty = false;
  /** #PF error code when the walk failed. */
  errorCode = 0;
}

/** The paging mode the registers select (SDM Vol. 3A 4.1.1, Table 4-1). */
export const enum PagingMode {
  None = 0,
  Bits32 = 1,
  Pae = 2,
  Level4 = 3,
}

export function pagingMode(r: PagingRegs): PagingMode {
  if (!(r.cr0 & Cr0.PG)) return PagingMode.None;
  if (r.efer & Efer.LMA) return PagingMode.Level4;
  return r.cr4 & Cr4.PAE ? PagingMode.Pae : PagingMode.Bits32;
}

/**
 * Physical address of a 64-bit entry's address field (bits MAXPHYADDR-1:12), with A20 applied
 * (QEMU masks bit 20 of every physical address the CPU emits, paging structures included).
 */
function entryAddr(lo: number, hi: number, a20Mask: number): number {
  return (hi & HI_ADDR) * TWO_32 + (((lo & 0xfffff000) & a20Mask) >>> 0);
}

// Entries visited by a walk, so that A/D are written only when the access succeeds.
const visitedAddr = new Float64Array(4);
const visitedLo = new Int32Array(4);

/**
 * Translates `lin` for `access`. `user` is a user-mode access (CPL 3 and not an implicit
 * supervisor access). Returns true with `out` filled, or false with `out.errorCode` set.
 * `a20Mask` is the CPU's A20 mask (-1 or ~(1 << 20)).
 */
export function walk(mem: PagingMemory, r: PagingRegs, lin: number, access: Access, user: boolean, a20Mask: number, setBits: boolean, out: WalkResult): boolean {
  switch (pagingMode(r)) {
    case PagingMode.None:
      out.frame = (((lin & 0xfffff000) & a20Mask) >>> 0);
      out.pageSize = 4096;
      out.user = out.writable = out.dirty = true;
      out.nx = out.global = false;
      return true;
    case PagingMode.Bits32: return walk32(mem, r, lin >>> 0, access, user, a20Mask, setBits, out);
    case PagingMode.Pae: return walkPae(mem, r, lin >>> 0, access, user, a20Mask, setBits, out);
    default: return walk4Level(mem, r, lin, access, user, a20Mask, setBits, out);
  }
}

/** 32-bit paging (SDM 4.3). */
export function walk32(mem: PagingMemory, r: PagingRegs, lin: number, access: Access, user: boolean, a20Mask: number, setBits: boolean, out: WalkResult): boolean {
  const pdeAddr = (((r.cr3 & 0xfffff000) | ((lin >>> 20) & 0xffc)) & a20Mask) >>> 0;
  const pde = mem.read(pdeAddr, 4) | 0;
  if (!(pde & Pte.P)) return notPresent(r, access, user, out);
  visitedAddr[0] = pdeAddr;
  visitedLo[0] = pde;
  if ((pde & Pte.PS) && (r.cr4 & Cr4.PSE)) {
    // 4 MiB page (Table 4-4): bits 21:13 reserved without PSE-36, bit 12 without PAT.
    if (pde & (0x003fe000 | (PAT_SUPPORTED ? 0 : Pte.PAT_LARGE))) return reserved(r, access, user, out);
    out.frame = ((((pde & 0xffc00000) | (lin & 0x003ff000)) & a20Mask) >>> 0);
    out.pageSize = 0x400000;
    return finish(mem, r, pde, pde, false, 1, access, user, setBits, out);
  }
  const pteAddr = (((pde & 0xfffff000) | ((lin >>> 10) & 0xffc)) & a20Mask) >>> 0;
  const pte = mem.read(pteAddr, 4) | 0;
  if (!(pte & Pte.P)) return notPresent(r, access, user, out);
  if (!PAT_SUPPORTED && (pte & Pte.PAT_4K)) return reserved(r, access, user, out);
  visitedAddr[1] = pteAddr;
  visitedLo[1] = pte;
  out.frame = ((pte & 0xfffff000) & a20Mask) >>> 0;
  out.pageSize = 4096;
  return finish(mem, r, pde & pte, pte, false, 2, access, user, setBits, out);
}

/** PAE paging (SDM 4.4): PDPTE registers, then PD and PT in memory. */
export function walkPae(mem: PagingMemory, r: PagingRegs, lin: number, access: Access, user: boolean, a20Mask: number, setBits: boolean, out: WalkResult): boolean {
  const nxe = (r.efer & Efer.NXE) !== 0;
  const hiRsvd = (HI_RSVD_PAE | (nxe ? 0 : HI_XD)) >>> 0;
  const i = lin >>> 30;
  const pdpteLo = r.pdpte[2 * i]!;
  const pdpteHi = r.pdpte[2 * i + 1]!;
  if (!(pdpteLo & Pte.P)) return notPresent(r, access, user, out);
  // Reserved PDPTE bits were checked when the register was loaded (#GP on the MOV to CR).
  const pdeAddr = entryAddr(pdpteLo, pdpteHi, a20Mask) + ((lin >>> 18) & 0xff8);
  const pde = mem.read(pdeAddr, 4) | 0;
  if (!(pde & Pte.P)) return notPresent(r, access, user, out);
  const pdeHi = mem.read(pdeAddr + 4, 4);
  if (pdeHi & hiRsvd) return reserved(r, access, user, out);
  visitedAddr[0] = pdeAddr;
  visitedLo[0] = pde;
  if (pde & Pte.PS) {
    // 2 MiB page (Table 4-9): bits 20:13 reserved, bit 12 without PAT.
    if (pde & (0x001fe000 | (PAT_SUPPORTED ? 0 : Pte.PAT_LARGE))) return reserved(r, access, user, out);
    out.frame = entryAddr(pde & 0xffe00000, pdeHi, a20Mask) + ((lin & 0x001ff000) & a20Mask);
    out.pageSize = 0x200000;
    return finish(mem, r, pde, pde, nxe && (pdeHi & HI_XD) !== 0, 1, access, user, setBits, out);
  }
  const pteAddr = entryAddr(pde, pdeHi, a20Mask) + ((lin >>> 9) & 0xff8);
  const pte = mem.read(pteAddr, 4) | 0;
  if (!(pte & Pte.P)) return notPresent(r, access, user, out);
  const pteHi = mem.read(pteAddr + 4, 4);
  if ((pteHi & hiRsvd) || (!PAT_SUPPORTED && (pte & Pte.PAT_4K))) return reserved(r, access, user, out);
  visitedAddr[1] = pteAddr;
  visitedLo[1] = pte;
  out.frame = entryAddr(pte, pteHi, a20Mask);
  out.pageSize = 4096;
  const nx = nxe && ((pdeHi | pteHi) & HI_XD) !== 0;
  return finish(mem, r, pde & pte, pte, nx, 2, access, user, setBits, out);
}

/**
 * 4-level paging (SDM 4.5). `lin` is the low 48 bits of the linear address as a non-negative
 * number below 2^48. The PAT bits are address-free here: every IA-32e processor has a PAT.
 */
export function walk4Level(mem: PagingMemory, r: PagingRegs, lin: number, access: Access, user: boolean, a20Mask: number, setBits: boolean, out: WalkResult): boolean {
  const nxe = (r.efer & Efer.NXE) !== 0;
  const hiRsvd = (HI_RSVD_4LEVEL | (nxe ? 0 : HI_XD)) >>> 0;
  let xd = 0;
  let rights = -1;
  // PML4E: bits 47:39 select it; PS (bit 7) is reserved.
  const cr3 = r.cr3;
  const pml4Base = (Math.floor(cr3 / TWO_32) & HI_ADDR) * TWO_32 + ((((cr3 % TWO_32) & 0xfffff000) & a20Mask) >>> 0);
  const pml4eAddr = pml4Base + (Math.floor(lin / 2 ** 39) & 511) * 8;
  const pml4e = mem.read(pml4eAddr, 4) | 0;
  if (!(pml4e & Pte.P)) return notPresent(r, access, user, out);
  const pml4eHi = mem.read(pml4eAddr + 4, 4);
  if ((pml4eHi & hiRsvd) || (pml4e & Pte.PS)) return reserved(r, access, user, out);
  visitedAddr[0] = pml4eAddr;
  visitedLo[0] = pml4e;
  xd |= pml4eHi;
  rights &= pml4e;
  // PDPTE: bits 38:30; PS = 1 maps a 1 GiB page (Table 4-15: bits 29:13 reserved).
  const pdpteAddr = entryAddr(pml4e, pml4eHi, a20Mask) + (Math.floor(lin / 2 ** 30) & 511) * 8;
  const pdpte = mem.read(pdpteAddr, 4) | 0;
  if (!(pdpte & Pte.P)) return notPresent(r, access, user, out);
  const pdpteHi = mem.read(pdpteAddr + 4, 4);
  if (pdpteHi & hiRsvd) return reserved(r, access, user, out);
  visitedAddr[1] = pdpteAddr;
  visitedLo[1] = pdpte;
  xd |= pdpteHi;
  rights &= pdpte;
  if (pdpte & Pte.PS) {
    if (pdpte & 0x3fffe000) return reserved(r, access, user, out);
    out.frame = entryAddr(pdpte & 0xc0000000, pdpteHi, a20Mask) + ((lin & 0x3ffff000) & a20Mask);
    out.pageSize = 0x40000000;
    return finish(mem, r, rights, pdpte, nxe && (xd & HI_XD) !== 0, 2, access, user, setBits, out);
  }
  // PDE: bits 29:21; PS = 1 maps a 2 MiB page (bits 20:13 reserved).
  const pdeAddr = entryAddr(pdpte, pdpteHi, a20Mask) + ((lin >>> 18) & 0xff8);
  const pde = mem.read(pdeAddr, 4) | 0;
  if (!(pde & Pte.P)) return notPresent(r, access, user, out);
  const pdeHi = mem.read(pdeAddr + 4, 4);
  if (pdeHi & hiRsvd) return reserved(r, access, user, out);
  visitedAddr[2] = pdeAddr;
  visitedLo[2] = pde;
  xd |= pdeHi;
  rights &= pde;
  if (pde & Pte.PS) {
    if (pde & 0x001fe000) return reserved(r, access, user, out);
    out.frame = entryAddr(pde & 0xffe00000, pdeHi, a20Mask) + ((lin & 0x001ff000) & a20Mask);
    out.pageSize = 0x200000;
    return finish(mem, r, rights, pde, nxe && (xd & HI_XD) !== 0, 3, access, user, setBits, out);
  }
  // PTE: bits 20:12.
  const pteAddr = entryAddr(pde, pdeHi, a20Mask) + ((lin >>> 9) & 0xff8);
  const pte = mem.read(pteAddr, 4) | 0;
  if (!(pte & Pte.P)) return notPresent(r, access, user, out);
  const pteHi = mem.read(pteAddr + 4, 4);
  if (pteHi & hiRsvd) return reserved(r, access, user, out);
  visitedAddr[3] = pteAddr;
  visitedLo[3] = pte;
  xd |= pteHi;
  rights &= pte;
  out.frame = entryAddr(pte, pteHi, a20Mask);
  out.pageSize = 4096;
  return finish(mem, r, rights, pte, nxe && (xd & HI_XD) !== 0, 4, access, user, setBits, out);
}

/** Base error code for `access`: W/R, U/S and I/D (SDM 4.7). */
function accessBits(r: PagingRegs, access: Access, user: boolean): number {
  let e = user ? PfErr.U : 0;
  if (access === Access.Write) e |= PfErr.W;
  // I/D is reported only when execute-disable can apply: PAE or 4-level paging with NXE.
  else if (access === Access.Fetch && (r.cr4 & Cr4.PAE) && (r.efer & Efer.NXE)) e |= PfErr.ID;
  return e;
}

function notPresent(r: PagingRegs, access: Access, user: boolean, out: WalkResult): false {
  out.errorCode = accessBits(r, access, user);
  return false;
}

function reserved(r: PagingRegs, access: Access, user: boolean, out: WalkResult): false {
  out.errorCode = accessBits(r, access, user) | PfErr.P | PfErr.RSVD;
  return false;
}

/**
 * Applies the access rights of SDM 4.6 from the combined `rights` (R/W and U/S ANDed over all
 * levels), then sets the accessed flags of the `levels` visited entries and, for a write, the
 * dirty flag of the leaf.
 */
function finish(mem: PagingMemory, r: PagingRegs, rights: number, leaf: number, nx: boolean, levels: number, access: Access, user: boolean, setBits: boolean, out: WalkResult): boolean {
  const userOk = (rights & Pte.US) !== 0;
  const rw = (rights & Pte.RW) !== 0;
  out.user = userOk;
  // Supervisor writes ignore R/W when CR0.WP = 0 (4.6.1); user writes never do.
  out.writable = rw || (!user && !(r.cr0 & Cr0.WP));
  out.nx = nx;
  out.global = (leaf & Pte.G) !== 0 && (r.cr4 & Cr4.PGE) !== 0;
  if ((user && !userOk) || (access === Access.Write && !out.writable) || (access === Access.Fetch && nx)) {
    out.errorCode = accessBits(r, access, user) | PfErr.P;
    return false;
  }
  let dirty = (leaf & Pte.D) !== 0;
  if (setBits) {
    const last = levels - 1;
    for (let i = 0; i < levels; i++) {
      const e = visitedLo[i]!;
      let ne = e | Pte.A;
      if (i === last && access === Access.Write) ne |= Pte.D;
      if (ne !== e) mem.write(visitedAddr[i]!, 4, ne >>> 0);
    }
    if (access === Access.Write) dirty = true;
  }
  out.dirty = dirty;
  return true;
}

/**
 * Validates and returns the four PAE PDPTEs at CR3 (SDM 4.4.1, Table 4-8): false if a present
 * PDPTE has a reserved bit set (bits 2:1, 8:5, 63:MAXPHYADDR), in which case the MOV to CR
 * raises #GP(0) and `out` is unchanged.
 */
export function readPdptes(mem: PagingMemory, cr3: number, a20Mask: number, out: Uint32Array): boolean {
  const base = ((cr3 & 0xffffffe0) & a20Mask) >>> 0;
  const tmp = pdpteScratch;
  for (let i = 0; i < 4; i++) {
    const lo = mem.read(base + 8 * i, 4);
    const hi = mem.read(base + 8 * i + 4, 4);
    if ((lo & Pte.P) && ((lo & 0x1e6) || (hi & ~HI_ADDR))) return false;
    tmp[2 * i] = lo;
    tmp[2 * i + 1] = hi;
  }
  out.set(tmp);
  return true;
}
const pdpteScratch = new Uint32Array(8);
