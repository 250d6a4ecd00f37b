/**
 * HMP `info mem` and `info tlb` in QEMU's formats (target/i386/monitor.c mem_info_32,
 * mem_info_pae32, mem_info_la48, tlb_info_*): both read the paging structures in guest memory
 * as they are (not our software TLB, as QEMU's do not read its TLB either), for 32-bit, PAE
 * and 4-level paging. `info mem` merges runs of pages with equal U/W/P rights into
 * `start-end size urw` lines; `info tlb` lists every present leaf as
 * `vaddr: paddr XGPDACTUW`. Without CR0.PG both print `PG disabled`.
 */
import type { PagingRegisters } from '../machine/control.js';

/** Reads a little-endian entry of `bytes` (4 or 8) as [low, high] dwords; 0 if unassigned. */
type EntryReader = (addr: number, bytes: 4 | 8) => [number, number];

const P = 1, RW = 2, US = 4, PWT = 8, PCD = 0x10, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const CR0_PG = 1 << 31, CR4_PSE = 1 << 4, CR4_PAE = 1 << 5, EFER_LMA = 1 << 10;
const TWO_32 = 4294967296;

/** Address bits 49:12 of a 64-bit entry (QEMU's 0x3fffffffff000 mask). */
const addr64 = (lo: number, hi: number) => (hi & 0x3ffff) * TWO_32 + ((lo & ~0xfff) >>> 0);

/** QEMU's addr_canonical: in IA-32e mode bit 47 is sign-extended. */
function hexAddr(addr: number, long: boolean): string {
  let v = BigInt(addr);
  if (long && v & (1n << 47n)) v |= 0xffff000000000000n;
  return v.toString(16).padStart(16, '0');
}

function isLong(r: PagingRegisters): boolean {
  return (r.efer & EFER_LMA) !== 0;
}

export function formatInfoMem(r: PagingRegisters, read: EntryReader): string {
  if (!(r.cr0 & CR0_PG)) return 'PG disabled';
  const long = isLong(r);
  const out: string[] = [];
  let start = -1;
  let lastProt = 0;
  const print = (end: number, prot: number) => {
    if (prot === lastProt) return;
    if (start !== -1) {
      out.push(`${hexAddr(start, long)}-${hexAddr(end, long)} ${hexAddr(end - start, long)} ` +
        `${lastProt & US ? 'u' : '-'}r${lastProt & RW ? 'w' : '-'}`);
    }
    start = prot !== 0 ? end : -1;
    lastProt = prot;
  };
  const MASK = US | RW | P;
  if (!(r.cr4 & CR4_PAE)) {
    const pgd = (r.cr3 & ~0xfff) >>> 0;
    for (let l1 = 0; l1 < 1024; l1++) {
      const [pde] = read(pgd + l1 * 4, 4);
      const base = l1 * 0x400000;
      if (!(pde & P)) { print(base, 0); continue; }
      if (pde & PS && r.cr4 & CR4_PSE) { print(base, pde & MASK); continue; }
      const pt = (pde & ~0xfff) >>> 0;
      for (let l2 = 0; l2 < 1024; l2++) {
        const [pte] = read(pt + l2 * 4, 4);
        print(base + l2 * 0x1000, pte & P ? pte & pde & MASK : 0);
      }
    }
    print(TWO_32, 0);
  } else if (!long) {
    const pdp = (r.cr3 & ~0x1f) >>> 0;
    for (let l1 = 0; l1 < 4; l1++) {
      const [pdpeLo, pdpeHi] = read(pdp + l1 * 8, 8);
      if (!(pdpeLo & P)) { print(l1 * 0x40000000, 0); continue; }
      walkPd(addr64(pdpeLo, pdpeHi), l1 * 0x40000000, MASK);
    }
    print(TWO_32, 0);
  } else {
    const pml4 = addr64(r.cr3, 0);
    for (let l1 = 0; l1 < 512; l1++) {
      const [e1, e1h] = read(pml4 + l1 * 8, 8);
      const b1 = l1 * 2 ** 39;
      if (!(e1 & P)) { print(b1, 0); continue; }
      const pdpt = addr64(e1, e1h);
      for (let l2 = 0; l2 < 512; l2++) {
        const [e2, e2h] = read(pdpt + l2 * 8, 8);
        const b2 = b1 + l2 * 2 ** 30;
        if (!(e2 & P)) { print(b2, 0); continue; }
        if (e2 & PS) { print(b2, e2 & MASK & e1); continue; }
        walkPd(addr64(e2, e2h), b2, MASK & e1 & e2);
      }
    }
    print(2 ** 48, 0);
  }
  return out.join('\n');

  /** A PAE/4-level page directory at `pd` mapping from `base`; `upper` = rights of the levels above. */
  function walkPd(pd: number, base: number, upper: number): void {
    for (let l2 = 0; l2 < 512; l2++) {
      const [pde, pdeHi] = read(pd + l2 * 8, 8);
      const b = base + l2 * 0x200000;
      if (!(pde & P)) { print(b, 0); continue; }
      if (pde & PS) { print(b, pde & upper); continue; }
      const pt = addr64(pde, pdeHi);
      for (let l3 = 0; l3 < 512; l3++) {
        const [pte] = read(pt + l3 * 8, 8);
        print(b + l3 * 0x1000, pte & P ? pte & pde & upper : 0);
      }
    }
  }
}

export function formatInfoTlb(r: PagingRegisters, read: EntryReader): string {
  if (!(r.cr0 & CR0_PG)) return 'PG disabled';
  const long = isLong(r);
  const out: string[] = [];
  /** QEMU's print_pte: the entry under QEMU's mask for its level (which may keep high bits such as XD). */
  const pte = (vaddr: number, lo: number, hi: number, mask: bigint) => {
    const frame = ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)) & mask;
    const f = (bit: number, ch: string) => (lo & bit ? ch : '-');
    out.push(`${hexAddr(vaddr, long)}: ${frame.toString(16).padStart(16, '0')} ` +
      `${hi & 0x80000000 ? 'X' : '-'}${f(G, 'G')}${f(PS, 'P')}${f(D, 'D')}${f(A, 'A')}${f(PCD, 'C')}${f(PWT, 'T')}${f(US, 'U')}${f(RW, 'W')}`);
  };
  const ALL = 0xffffffffffffffffn;
  if (!(r.cr4 & CR4_PAE)) {
    const pgd = (r.cr3 & ~0xfff) >>> 0;
    for (let l1 = 0; l1 < 1024; l1++) {
      const [pde] = read(pgd + l1 * 4, 4);
      if (!(pde & P)) continue;
      // QEMU masks a 4 MiB PDE with ~((1 << 21) - 1), keeping bit 21.
      if (pde & PS && r.cr4 & CR4_PSE) { pte(l1 * 0x400000, pde, 0, ALL ^ 0x1fffffn); continue; }
      const pt = (pde & ~0xfff) >>> 0;
      for (let l2 = 0; l2 < 1024; l2++) {
        const [e] = read(pt + l2 * 4, 4);
        if (e & P) pte(l1 * 0x400000 + l2 * 0x1000, e & ~PS, 0, ALL ^ 0xfffn);
      }
    }
  } else if (!long) {
    const pdp = (r.cr3 & ~0x1f) >>> 0;
    for (let l1 = 0; l1 < 4; l1++) {
      const [lo, hi] = read(pdp + l1 * 8, 8);
      if (lo & P) tlbPd(addr64(lo, hi), l1 * 0x40000000, ALL ^ 0xfffffn, ALL ^ 0xfffn);
    }
  } else {
    const pml4 = addr64(r.cr3, 0);
    for (let l1 = 0; l1 < 512; l1++) {
      const [e1, e1h] = read(pml4 + l1 * 8, 8);
      if (!(e1 & P)) continue;
      const pdpt = addr64(e1, e1h);
      for (let l2 = 0; l2 < 512; l2++) {
        const [e2, e2h] = read(pdpt + l2 * 8, 8);
        if (!(e2 & P)) continue;
        const b2 = l1 * 2 ** 39 + l2 * 2 ** 30;
        if (e2 & PS) { pte(b2, e2, e2h, 0x3ffffc0000000n); continue; }
        tlbPd(addr64(e2, e2h), b2, 0x3ffffffe00000n, 0x3fffffffff000n);
      }
    }
  }
  return out.join('\n');

  /** A PAE/4-level page directory at `pd` mapping from `base`, with QEMU's masks for 2 MiB and 4 KiB leaves. */
  function tlbPd(pd: number, base: number, mask2m: bigint, mask4k: bigint): void {
    for (let l2 = 0; l2 < 512; l2++) {
      const [lo, hi] = read(pd + l2 * 8, 8);
      if (!(lo & P)) continue;
      const b = base + l2 * 0x200000;
      if (lo & PS) { pte(b, lo, hi, mask2m); continue; }
      const pt = addr64(lo, hi);
      for (let l3 = 0; l3 < 512; l3++) {
        const [e, eh] = read(pt + l3 * 8, 8);
        if (e & P) pte(b + l3 * 0x1000, e & ~PS, eh, mask4k);
      }
    }
  }
}
