/**
 * Paging, from the SDM (Vol. 3A chapter 4): the page-fault error code and CR2 (4.7), access
 * rights with U/S, R/W, CR0.WP and execute-disable (4.6), accessed and dirty flags (4.8),
 * reserved bits (Tables 4-4 .. 4-19), 4 MiB / 2 MiB / 1 GiB pages, the PAE PDPTE registers
 * (4.4.1), and TLB invalidation by INVLPG, MOV to CR3 with global pages, and CR4 (4.10.4).
 * Page tables are built in guest memory by hand; expected values are worked out from those
 * sections. The harness identity-maps its first 2 MiB (tables, handlers, stack, code, data).
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, DATA_ADDR, descriptor, IDT_BASE, STACK_TOP } from '../helpers/cpu-harness.js';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { Access, walk4Level, WalkResult, type PagingRegs } from '../../src/cpu/x86/paging.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';

const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const CR0_PE = 1, CR0_ET = 0x10, CR0_WP = 1 << 16, CR0_PG = 0x80000000;
const CR4_PSE = 0x10, CR4_PAE = 0x20, CR4_PGE = 0x80;
const EFER_NXE = 1 << 11;
const PF = 14, GP = 13;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const movEaxMem = (addr: number) => [0xa1, ...le32(addr)]; // mov eax, [addr]
const movMemEax = (addr: number) => [0xa3, ...le32(addr)]; // mov [addr], eax
const movEaxImm = (v: number) => [0xb8, ...le32(v)]; // mov eax, imm32
const movEbxMem = (addr: number) => [0x8b, 0x1d, ...le32(addr)]; // mov ebx, [addr]
const invlpg = (addr: number) => [0x0f, 0x01, 0x3d, ...le32(addr)]; // invlpg [addr]
const MOV_CR3_EAX = [0x0f, 0x22, 0xd8];
const MOV_EAX_CR3 = [0x0f, 0x20, 0xd8];
const MOV_CR0_EAX = [0x0f, 0x22, 0xc0];
const MOV_CR4_EAX = [0x0f, 0x22, 0xe0];

// --- 32-bit paging: PD at TABLES, one page table mapping 0-2 MiB ------------------------------
const TABLES = 0x1c0000;
const PD32 = TABLES;
const PT32 = TABLES + 0x1000;
/** A spare frame the tests remap pages to. */
const FRAME_B = 0x150000;
/** A linear page the identity map does not cover (PDE 2 of the 32-bit directory). */
const HIGH = 0x00800000;

function map32(h: CpuHarness, pteFlags = P | RW | US): void {
  h.fill(TABLES, 0x4000);
  h.write32(PD32, PT32 | P | RW | US);
  for (let i = 0; i < 512; i++) h.write32(PT32 + 4 * i, (i << 12) | pteFlags);
}
const pte32 = (lin: number) => PT32 + ((lin >>> 12) & 0x3ff) * 4;

function enable32(cpu: X86Cpu, cr4 = 0, cr0Extra = 0): void {
  cpu.s.cr3 = PD32;
  cpu.s.cr4 = cr4;
  cpu.s.cr0 = CR0_PE | CR0_ET | CR0_PG | cr0Extra;
  cpu.mmu.flushAll();
}

// --- PAE paging: PDPT, PD, PT mapping 0-2 MiB ----------------------------------------------------
const PDPT = TABLES;
const PDPAE = TABLES + 0x1000;
const PTPAE = TABLES + 0x2000;
const pteP = (lin: number) => PTPAE + ((lin >>> 12) & 0x1ff) * 8;

function mapPae(h: CpuHarness, pteFlags = P | RW | US): void {
  h.fill(TABLES, 0x4000);
  h.write32(PDPT, PDPAE | P);
  h.write32(PDPAE, PTPAE | P | RW | US);
  for (let i = 0; i < 512; i++) h.write32(PTPAE + 8 * i, (i << 12) | pteFlags);
}

function enablePae(cpu: X86Cpu, efer = 0, cr0Extra = 0): void {
  cpu.s.cr3 = PDPT;
  cpu.s.cr4 = CR4_PAE;
  cpu.s.efer = efer;
  expect(cpu.mmu.loadPdptes(PDPT)).toBe(true);
  cpu.s.cr0 = CR0_PE | CR0_ET | CR0_PG | cr0Extra;
  cpu.mmu.flushAll();
}

describe('#PF error code and CR2 (SDM 4.7)', () => {
  it('a read of a not-present page: error code 0, CR2 = the address, EIP = the instruction', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(pte32(DATA_ADDR), 0);
    const r = h.run({ code: movEaxMem(DATA_ADDR + 0x123), setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 0, eip: CODE_ADDR });
    expect(h.cpu.s.cr2).toBe(DATA_ADDR + 0x123);
  });

  it('a write of a not-present page sets W/R (error code 2)', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(pte32(DATA_ADDR), 0);
    const r = h.run({ code: movMemEax(DATA_ADDR + 8), setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 2 });
    expect(h.cpu.s.cr2).toBe(DATA_ADDR + 8);
  });

  it('a not-present page directory entry faults like a not-present PTE', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const r = h.run({ code: movEaxMem(HIGH + 4), setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 0 });
    expect(h.cpu.s.cr2).toBe(HIGH + 4);
  });

  it('CR2 is MOV-readable in the handler and MOV to CR2 sets it', () => {
    const h = CpuHarness.flat32();
    const r = h.run({ code: [...movEaxImm(0x12345678), 0x0f, 0x22, 0xd0, 0x0f, 0x20, 0xd1] }); // mov cr2,eax; mov ecx,cr2
    expect(r.regs.ecx).toBe(0x12345678);
  });
});

describe('access rights (SDM 4.6)', () => {
  it('a supervisor write to a read-only page succeeds with CR0.WP = 0', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(pte32(DATA_ADDR), DATA_ADDR | P | US);
    const r = h.run({ code: [...movEaxImm(0xcafe), ...movMemEax(DATA_ADDR)], setup: (c) => enable32(c) });
    expect(r.exception).toBeUndefined();
    expect(r.read32(DATA_ADDR)).toBe(0xcafe);
  });

  it('a supervisor write to a read-only page faults with CR0.WP = 1 (error code P|W = 3)', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(pte32(DATA_ADDR), DATA_ADDR | P | US);
    h.write32(DATA_ADDR, 0x1111);
    const r = h.run({ code: [...movEaxImm(0xcafe), ...movMemEax(DATA_ADDR)], setup: (c) => enable32(c, 0, CR0_WP) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 3 });
    expect(r.read32(DATA_ADDR)).toBe(0x1111);
  });

  it('R/W = 0 in the directory entry alone write-protects the pages under it', () => {
    const h = CpuHarness.flat32();
    map32(h);
    // PDE 2 aliases the identity page table without R/W (PDE 0 must stay writable: the stack).
    h.write32(PD32 + 4 * (HIGH >>> 22), PT32 | P | US);
    const r = h.run({ code: [...movEaxImm(1), ...movMemEax(HIGH + DATA_ADDR)], setup: (c) => enable32(c, 0, CR0_WP) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 3 });
    expect(h.cpu.s.cr2).toBe(HIGH + DATA_ADDR);
  });
});

/** Ring-3 segments and a TSS, as in privilege.test.ts. */
const CODE3 = 0x38, DATA3 = 0x40, TSS = 0x48, TSS_BASE = 0x7000, USER_STACK = 0x9000;

function ringHarness(): CpuHarness {
  const h = CpuHarness.flat32();
  h.setGdtEntry(CODE3, ...descriptor(0, 0xfffff, 0xfb, 0xc));
  h.setGdtEntry(DATA3, ...descriptor(0, 0xfffff, 0xf3, 0xc));
  h.setGdtEntry(TSS, ...descriptor(TSS_BASE, 0x67, 0x89, 0x0));
  h.write32(TSS_BASE + 4, STACK_TOP);
  h.write32(TSS_BASE + 8, 0x10);
  return h;
}

/** CPL 0 code that loads TR and IRETs to `user` at CPL 3. */
function toRing3(user: number[]): { code: number[]; userAddr: number } {
  const prologue = [
    0x66, 0xb8, TSS, 0x00, 0x0f, 0x00, 0xd8, // mov ax, TSS; ltr ax
    0x66, 0xb8, DATA3 | 3, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xe8, // ds, es, gs = DATA3
    0x6a, DATA3 | 3, 0x68, ...le32(USER_STACK), 0x68, ...le32(0x202), 0x6a, CODE3 | 3,
  ];
  const userAddr = CODE_ADDR + prologue.length + 5 + 1;
  return { code: [...prologue, 0x68, ...le32(userAddr), 0xcf, ...user], userAddr };
}

describe('user-mode accesses (CPL 3)', () => {
  it('a user read of a supervisor page faults with P|U (5)', () => {
    const h = ringHarness();
    map32(h);
    h.write32(pte32(DATA_ADDR), DATA_ADDR | P | RW);
    const { code, userAddr } = toRing3(movEaxMem(DATA_ADDR));
    const r = h.run({ code, setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 5, eip: userAddr });
  });

  it('a user write of a read-only user page faults with P|W|U (7) even with CR0.WP = 0', () => {
    const h = ringHarness();
    map32(h);
    h.write32(pte32(DATA_ADDR), DATA_ADDR | P | US);
    const { code } = toRing3(movMemEax(DATA_ADDR));
    const r = h.run({ code, setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 7 });
  });

  it('a user read of a not-present page faults with U (4)', () => {
    const h = ringHarness();
    map32(h);
    h.write32(pte32(DATA_ADDR), 0);
    const { code } = toRing3(movEaxMem(DATA_ADDR));
    const r = h.run({ code, setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 4 });
  });

  it('GDT, IDT and TSS on supervisor pages are still reached from CPL 3 (implicit supervisor accesses)', () => {
    const h = ringHarness();
    map32(h);
    for (const page of [0x0000, IDT_BASE, TSS_BASE]) h.write32(pte32(page), page | P | RW); // U/S = 0
    const { code, userAddr } = toRing3([0xcd, 0x50]); // int 0x50
    const r = h.run({ code, setup: (c) => enable32(c, 0, CR0_WP) });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE3 | 3, eip: userAddr + 2 });
  });
});

describe('accessed and dirty flags (SDM 4.8)', () => {
  it('a read sets A in the PDE and the PTE but not D; a write then sets D', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const r = h.run({ code: movEaxMem(DATA_ADDR), setup: (c) => enable32(c) });
    expect(r.exception).toBeUndefined();
    expect(r.read32(PD32) & (A | D)).toBe(A);
    expect(r.read32(pte32(DATA_ADDR)) & (A | D)).toBe(A);
    const w = h.run({ code: movMemEax(DATA_ADDR + 0x2000), setup: (c) => enable32(c) });
    expect(w.exception).toBeUndefined();
    expect(w.read32(pte32(DATA_ADDR + 0x2000)) & (A | D)).toBe(A | D);
  });

  it('a write through a clean TLB entry (filled by a read) still sets D', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const r = h.run({ code: [...movEaxMem(DATA_ADDR), ...movMemEax(DATA_ADDR + 4)], setup: (c) => enable32(c) });
    expect(r.exception).toBeUndefined();
    expect(r.read32(pte32(DATA_ADDR)) & (A | D)).toBe(A | D);
  });

  it('a faulting write sets neither A nor D anywhere', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(pte32(DATA_ADDR), DATA_ADDR | P | US); // read-only
    h.write32(PD32, PT32 | P | RW | US); // A clear
    // The code and stack pages get A set by the fetch and the handler; only the data page matters.
    const r = h.run({ code: movMemEax(DATA_ADDR), setup: (c) => enable32(c, 0, CR0_WP) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 3 });
    expect(r.read32(pte32(DATA_ADDR)) & (A | D)).toBe(0);
  });
});

describe('large pages', () => {
  it('a 4 MiB page (CR4.PSE) maps linear 0x800000 onto physical 0', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(PD32 + 4 * (HIGH >>> 22), 0 | P | RW | PS);
    h.write32(DATA_ADDR + 0x40, 0xdeadbeef);
    const r = h.run({ code: movEaxMem(HIGH + DATA_ADDR + 0x40), setup: (c) => enable32(c, CR4_PSE) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax).toBe(0xdeadbeef);
    expect(r.read32(PD32 + 4 * (HIGH >>> 22)) & A).toBe(A);
  });

  it('without CR4.PSE the PS bit is ignored and the entry points to a page table', () => {
    const h = CpuHarness.flat32();
    map32(h);
    // PDE 2 = PT32 with PS set: without PSE, linear 0x800000 + x uses PT32 like 0 + x does.
    h.write32(PD32 + 4 * (HIGH >>> 22), PT32 | P | RW | PS);
    h.write32(DATA_ADDR, 0x5a5a5a5a);
    const r = h.run({ code: movEaxMem(HIGH + DATA_ADDR), setup: (c) => enable32(c, 0) });
    expect(r.regs.eax).toBe(0x5a5a5a5a);
  });

  it('reserved bits 21:13 of a 4 MiB PDE fault with P|RSVD (9)', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(PD32 + 4 * (HIGH >>> 22), (1 << 13) | P | RW | PS);
    const r = h.run({ code: movEaxMem(HIGH), setup: (c) => enable32(c, CR4_PSE) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 9 });
    expect(h.cpu.s.cr2).toBe(HIGH);
  });

  it('a 2 MiB PAE page maps linear 0x40000000 onto physical 0', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const PD1 = TABLES + 0x3000;
    h.write32(PDPT + 8, PD1 | P);
    h.write32(PD1, 0 | P | RW | PS);
    h.write32(DATA_ADDR + 0x10, 0x0badf00d);
    const r = h.run({ code: movEaxMem(0x40000000 + DATA_ADDR + 0x10), setup: (c) => enablePae(c) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax).toBe(0x0badf00d);
  });

  it('reserved bits 20:13 of a 2 MiB PAE PDE fault with P|RSVD', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const PD1 = TABLES + 0x3000;
    h.write32(PDPT + 8, PD1 | P);
    h.write32(PD1, (1 << 20) | P | RW | PS);
    const r = h.run({ code: movMemEax(0x40000000), setup: (c) => enablePae(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 0xb }); // P|W|RSVD
  });
});

describe('PAT bits (CPUID.1:EDX.PAT is set): attribute bits, not reserved ones', () => {
  it('the PAT bit (7) of a 32-bit PTE and bit 12 of a 4 MiB PDE translate normally', () => {
    const h = CpuHarness.flat32();
    map32(h, P | RW | US | 0x80);
    h.write32(PD32 + 4 * (HIGH >>> 22), 0 | P | RW | PS | (1 << 12));
    h.write32(DATA_ADDR + 0x40, 0xdeadbeef);
    const r = h.run({ code: [...movEaxMem(DATA_ADDR + 0x40), ...movEbxMem(HIGH + DATA_ADDR + 0x40)], setup: (c) => enable32(c, CR4_PSE) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax).toBe(0xdeadbeef);
    expect(r.regs.ebx).toBe(0xdeadbeef);
  });

  it('the PAT bit of a PAE PTE translates normally', () => {
    const h = CpuHarness.flat32();
    mapPae(h, P | RW | US | 0x80);
    h.write32(DATA_ADDR, 0x0badf00d);
    const r = h.run({ code: movEaxMem(DATA_ADDR), setup: (c) => enablePae(c) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax).toBe(0x0badf00d);
  });
});

describe('PAE paging, execute-disable and reserved bits', () => {
  it('a PTE address bit at or above MAXPHYADDR (40, as CPUID 0x80000008 reports) is reserved', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    h.write32(pteP(DATA_ADDR) + 4, 1 << 8); // bit 40
    const r = h.run({ code: movEaxMem(DATA_ADDR), setup: (c) => enablePae(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 9 });
  });

  it('with EFER.NXE = 0 the XD bit is reserved (P|RSVD, no I/D), even for data reads', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    h.write32(pteP(DATA_ADDR) + 4, 0x80000000);
    const r = h.run({ code: movEaxMem(DATA_ADDR), setup: (c) => enablePae(c, 0) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 9 });
  });

  it('with EFER.NXE = 1 an XD page is readable but a fetch from it faults with P|I/D (0x11)', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    h.write32(pteP(DATA_ADDR) + 4, 0x80000000);
    h.write(DATA_ADDR, [0x90, 0xf4]);
    const r = h.run({ code: [...movEaxMem(DATA_ADDR), ...movEaxImm(DATA_ADDR), 0xff, 0xe0], setup: (c) => enablePae(c, EFER_NXE) }); // jmp eax
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 0x11, eip: DATA_ADDR });
    expect(h.cpu.s.cr2).toBe(DATA_ADDR);
  });

  it('XD in the directory entry alone forbids fetches from every page under it', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const PD1 = TABLES + 0x3000;
    h.write32(PDPT + 8, PD1 | P);
    h.write32(PD1, PTPAE | P | RW);
    h.write32(PD1 + 4, 0x80000000);
    const target = 0x40000000 + DATA_ADDR;
    h.write(DATA_ADDR, [0xf4]);
    const r = h.run({ code: [...movEaxImm(target), 0xff, 0xe0], setup: (c) => enablePae(c, EFER_NXE) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 0x11, eip: target });
  });

  it('a fetch from a page without XD runs with NXE = 0 and with NXE = 1', () => {
    for (const efer of [0, EFER_NXE]) {
      const h = CpuHarness.flat32();
      mapPae(h);
      h.write(DATA_ADDR, [0xb9, ...le32(77), 0xf4]); // mov ecx, 77; hlt
      const r = h.run({ code: [...movEaxImm(DATA_ADDR), 0xff, 0xe0], setup: (c) => enablePae(c, efer) });
      expect(r.exception).toBeUndefined();
      expect(r.regs.ecx).toBe(77);
    }
  });

  it('a fetch from a not-present page reports I/D only with PAE and NXE', () => {
    const cases: [boolean, number, number][] = [[false, 0, 0], [true, 0, 0], [true, EFER_NXE, 0x10]];
    for (const [pae, efer, expected] of cases) {
      const h = CpuHarness.flat32();
      if (pae) {
        mapPae(h);
        h.write32(pteP(DATA_ADDR), 0);
      } else {
        map32(h);
        h.write32(pte32(DATA_ADDR), 0);
      }
      const r = h.run({ code: [...movEaxImm(DATA_ADDR), 0xff, 0xe0], setup: (c) => (pae ? enablePae(c, efer) : enable32(c)) });
      expect(r.exception).toMatchObject({ vector: PF, errorCode: expected, eip: DATA_ADDR });
    }
  });

  it('MOV to CR3 with a reserved bit in a present PDPTE raises #GP(0) and leaves CR3 alone', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const BAD = TABLES + 0x3000;
    h.write32(BAD, PDPAE | P);
    h.write32(BAD + 8, PDPAE | P | RW); // bit 1 is reserved in a PAE PDPTE
    const r = h.run({ code: [...movEaxImm(BAD), ...MOV_CR3_EAX], setup: (c) => enablePae(c) });
    expect(r.exception).toMatchObject({ vector: GP, errorCode: 0, eip: CODE_ADDR + 5 });
    expect(h.cpu.s.cr3).toBe(PDPT);
  });

  it('reserved bits of a not-present PDPTE are not checked', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const OTHER = TABLES + 0x3000;
    h.write32(OTHER, PDPAE | P);
    h.write32(OTHER + 8, 0xfffffffe);
    h.write32(OTHER + 12, 0xffffffff);
    const r = h.run({ code: [...movEaxImm(OTHER), ...MOV_CR3_EAX], setup: (c) => enablePae(c) });
    expect(r.exception).toBeUndefined();
    expect(Array.from(h.cpu.s.pdpte.slice(0, 4))).toEqual([PDPAE | P, 0, 0xfffffffe, 0xffffffff]);
  });

  it('setting CR0.PG with PAE loads the PDPTEs (and #GP on a reserved bit)', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const code = [...movEaxImm(PDPT), ...MOV_CR3_EAX, ...movEaxImm(CR4_PAE), ...MOV_CR4_EAX, ...movEaxImm(CR0_PE | CR0_ET | CR0_PG), ...MOV_CR0_EAX, ...movEaxMem(DATA_ADDR)];
    h.write32(DATA_ADDR, 4242);
    const ok = h.run({ code });
    expect(ok.exception).toBeUndefined();
    expect(ok.regs.eax).toBe(4242);
    expect(h.cpu.s.pdpte[0]).toBe(PDPAE | P);
    h.write32(PDPT + 4, 1 << 31); // bit 63 is reserved in a PAE PDPTE
    const bad = h.run({ code });
    expect(bad.exception).toMatchObject({ vector: GP, errorCode: 0 });
    expect(h.cpu.s.cr0 & CR0_PG).toBe(0);
  });

  it('the PDPTE registers, not memory, are used until CR3 is reloaded', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    const PD1 = TABLES + 0x3000;
    const lin = 0x40000000 + DATA_ADDR;
    h.write32(PDPT + 8, PD1 | P);
    h.write32(PD1, 0 | P | RW | PS);
    h.write32(DATA_ADDR, 31);
    // Clear PDPTE 1 in memory and flush the TLB by INVLPG: the register still maps the
    // second GiB until MOV to CR3 reloads it.
    const code = [
      ...movEaxImm(0), ...movMemEax(PDPT + 8), ...invlpg(lin),
      ...movEbxMem(lin), // ebx = 31
      ...MOV_EAX_CR3, ...MOV_CR3_EAX,
      ...movEaxMem(lin), // #PF: PDPTE 1 is not present now
    ];
    const r = h.run({ code, setup: (c) => enablePae(c) });
    expect(r.regs.ebx).toBe(31);
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 0 });
    expect(h.cpu.s.cr2).toBe(lin);
  });
});

describe('TLB invalidation (SDM 4.10.4)', () => {
  it('a changed PTE is not seen until INVLPG, which flushes exactly that page', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const X = DATA_ADDR, Y = DATA_ADDR + 0x1000;
    h.write32(X, 0x11);
    h.write32(Y, 0x22);
    h.write32(FRAME_B, 0xbb);
    h.write32(FRAME_B + 0x1000, 0xcc);
    const code = [
      ...movEaxMem(X), ...movEaxMem(Y), // fill the TLB
      0xc7, 0x05, ...le32(pte32(X)), ...le32(FRAME_B | P | RW), // remap X and Y
      0xc7, 0x05, ...le32(pte32(Y)), ...le32((FRAME_B + 0x1000) | P | RW),
      ...movEbxMem(X), 0x89, 0xde, // esi = [X] (stale)
      ...invlpg(X),
      ...movEbxMem(X), 0x89, 0xdf, // edi = [X] (new)
      ...movEbxMem(Y), // ebx = [Y] (still stale)
    ];
    const r = h.run({ code, setup: (c) => enable32(c) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.esi).toBe(0x11);
    expect(r.regs.edi).toBe(0xbb);
    expect(r.regs.ebx).toBe(0x22);
  });

  it('INVLPG of any address in a 4 MiB page drops every 4 KiB piece of it', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const pde = PD32 + 4 * (HIGH >>> 22);
    h.write32(pde, 0 | P | RW | PS);
    h.write32(0x8000, 0xa1);
    h.write32(0xa000, 0xa3);
    const code = [
      ...movEaxMem(HIGH + 0x8000), ...movEaxMem(HIGH + 0xa000), 0x89, 0xc7, // edi = 0xa3 (through the TLB-filling read)
      0xc7, 0x05, ...le32(pde), ...le32(0x400000 | P | RW | PS), // now maps physical 4 MiB (nothing there)
      ...invlpg(HIGH + 0x9000),
      ...movEbxMem(HIGH + 0x8000), 0x89, 0xde, ...movEbxMem(HIGH + 0xa000),
    ];
    const r = h.run({ code, setup: (c) => enable32(c, CR4_PSE) });
    // Beyond RAM reads as all ones: both pieces were re-walked.
    expect(r.regs.edi).toBe(0xa3);
    expect(r.regs.esi).toBe(0xffffffff);
    expect(r.regs.ebx).toBe(0xffffffff);
  });

  it('MOV to CR3 drops non-global entries but keeps global ones (CR4.PGE); toggling PGE drops all', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const X = DATA_ADDR, Y = DATA_ADDR + 0x1000;
    h.write32(pte32(X), X | P | RW | G);
    h.write32(X, 0x11);
    h.write32(Y, 0x22);
    h.write32(FRAME_B, 0xbb);
    h.write32(FRAME_B + 0x1000, 0xcc);
    const code = [
      ...movEaxMem(X), ...movEaxMem(Y),
      0xc7, 0x05, ...le32(pte32(X)), ...le32(FRAME_B | P | RW | G),
      0xc7, 0x05, ...le32(pte32(Y)), ...le32((FRAME_B + 0x1000) | P | RW),
      ...MOV_EAX_CR3, ...MOV_CR3_EAX,
      ...movEbxMem(X), 0x89, 0xde, // esi = [X]: global, still the old frame
      ...movEbxMem(Y), 0x89, 0xdf, // edi = [Y]: re-walked
      ...movEaxImm(0), ...MOV_CR4_EAX, // clear PGE: flushes everything
      ...movEbxMem(X), // ebx = [X]: new frame
    ];
    const r = h.run({ code, setup: (c) => enable32(c, CR4_PGE) });
    expect(r.exception).toBeUndefined();
    expect(r.regs.esi).toBe(0x11);
    expect(r.regs.edi).toBe(0xcc);
    expect(r.regs.ebx).toBe(0xbb);
  });

  it('the G bit means nothing without CR4.PGE', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const X = DATA_ADDR;
    h.write32(pte32(X), X | P | RW | G);
    h.write32(X, 0x11);
    h.write32(FRAME_B, 0xbb);
    const code = [...movEaxMem(X), 0xc7, 0x05, ...le32(pte32(X)), ...le32(FRAME_B | P | RW | G), ...MOV_EAX_CR3, ...MOV_CR3_EAX, ...movEbxMem(X)];
    const r = h.run({ code, setup: (c) => enable32(c) });
    expect(r.regs.ebx).toBe(0xbb);
  });

  it('the current code page is re-translated after INVLPG of it', () => {
    const h = CpuHarness.flat32();
    map32(h);
    // Code at CODE_ADDR remaps its own page to FRAME_B, which holds "mov ecx, 2; hlt" at the
    // same offset as the instruction after INVLPG.
    const pre = [0xc7, 0x05, ...le32(pte32(CODE_ADDR)), ...le32(FRAME_B | P | RW)];
    const inv = invlpg(CODE_ADDR);
    const after = pre.length + inv.length;
    h.write(FRAME_B + after, [0xb9, ...le32(2), 0xf4]);
    const r = h.run({ code: [...pre, ...inv, 0xb9, ...le32(1)], setup: (c) => enable32(c) });
    expect(r.regs.ecx).toBe(2);
  });
});

describe('accesses that cross a page boundary', () => {
  it('a write whose second page faults changes nothing, with CR2 at the second page', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const end = DATA_ADDR + 0xffe;
    h.write32(pte32(DATA_ADDR + 0x1000), 0);
    h.write(end - 2, [1, 2, 3, 4]);
    const r = h.run({ code: [...movEaxImm(0xaabbccdd), ...movMemEax(end)], setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 2 });
    expect(h.cpu.s.cr2).toBe(DATA_ADDR + 0x1000);
    expect(Array.from(r.read(end - 2, 4))).toEqual([1, 2, 3, 4]);
  });

  it('a read across two mapped pages joins bytes from two frames', () => {
    const h = CpuHarness.flat32();
    map32(h);
    h.write32(pte32(DATA_ADDR + 0x1000), FRAME_B | P | RW);
    h.write(DATA_ADDR + 0xffe, [0x11, 0x22]);
    h.write(FRAME_B, [0x33, 0x44]);
    const r = h.run({ code: movEaxMem(DATA_ADDR + 0xffe), setup: (c) => enable32(c) });
    expect(r.regs.eax).toBe(0x44332211);
  });

  it('REP MOVSB stops at a not-present destination page with ECX, ESI, EDI at that byte', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const src = DATA_ADDR, dst = DATA_ADDR + 0x3000 - 0x10;
    h.write32(pte32(DATA_ADDR + 0x3000), 0);
    for (let i = 0; i < 0x20; i++) h.write(src + i, [i + 1]);
    const r = h.run({ code: [0xf3, 0xa4], regs: { esi: src, edi: dst, ecx: 0x20 }, setup: (c) => enable32(c) });
    expect(r.exception).toMatchObject({ vector: PF, errorCode: 2, eip: CODE_ADDR });
    expect(r.regs.ecx).toBe(0x10);
    expect(r.regs.edi).toBe(DATA_ADDR + 0x3000);
    expect(r.regs.esi).toBe(src + 0x10);
    expect(Array.from(r.read(dst, 0x10))).toEqual(Array.from({ length: 0x10 }, (_, i) => i + 1));
  });
});

describe('paging and the A20 gate', () => {
  it('with A20 masked, the physical address a PTE gives wraps bit 20', () => {
    const h = CpuHarness.flat32();
    map32(h);
    const lin = 0x1ff000; // PTE 511
    h.write32(pte32(lin), 0x110000 | P | RW); // bit 20 set
    h.write32(0x010000, 0x77);
    h.write32(0x110000, 0x88);
    const on = h.run({ code: movEaxMem(lin), setup: (c) => enable32(c) });
    expect(on.regs.eax).toBe(0x88);
    const off = h.run({
      code: movEaxMem(lin),
      setup: (c) => {
        enable32(c);
        // Everything the test runs from lies below 1 MiB or has bit 20 set in the same way, so
        // only the tables (at 0x1C0000 → 0x0C0000 when masked) must exist below 1 MiB too.
        h.mem.ram.copyWithin(0x0c0000, 0x1c0000, 0x1c2000);
        h.mem.ram.copyWithin(CODE_ADDR & ~0x100000, CODE_ADDR, CODE_ADDR + 0x100);
        c.setA20(false);
      },
    });
    expect(off.exception).toBeUndefined();
    expect(off.regs.eax).toBe(0x77);
    // Turning A20 back on drops the translations made while it was masked.
    h.cpu.setA20(true);
    expect(h.cpu.readLinear(lin, 4)).toBe(0x88);
  });

  it('with paging off and A20 masked, 0x100000 + x aliases x', () => {
    const h = CpuHarness.flat32();
    h.write32(0x000040, 0x99);
    h.write32(0x100040, 0x55);
    const r = h.run({
      code: [],
      setup: (c) => {
        c.setA20(false);
        c.s.eip = 0x6000; // run from below 1 MiB
        h.write(0x6000, [...movEaxMem(0x100040), 0xf4]);
      },
    });
    expect(r.regs.eax).toBe(0x99);
  });
});

describe('MOV to CR0/CR4 and EFER checks', () => {
  it('CR0.PG = 1 with PE = 0 is #GP(0)', () => {
    const h = CpuHarness.flat32();
    const r = h.run({ code: [...movEaxImm(CR0_PG | CR0_ET), ...MOV_CR0_EAX] });
    expect(r.exception).toMatchObject({ vector: GP, errorCode: 0, eip: CODE_ADDR + 5 });
  });

  it('reserved CR4 bits (VMXE, PCIDE, SMEP) are #GP(0); PSE, PAE, PGE, TSD are accepted', () => {
    const h = CpuHarness.flat32();
    for (const bit of [1 << 13, 1 << 17, 1 << 20]) {
      const r = h.run({ code: [...movEaxImm(bit), ...MOV_CR4_EAX] });
      expect(r.exception).toMatchObject({ vector: GP, errorCode: 0 });
    }
    const ok = h.run({ code: [...movEaxImm(0xb4), ...MOV_CR4_EAX, 0x0f, 0x20, 0xe1] }); // mov ecx, cr4
    expect(ok.exception).toBeUndefined();
    expect(ok.regs.ecx).toBe(0xb4);
  });

  it('EFER: RDMSR/WRMSR of NXE; a reserved bit is #GP(0)', () => {
    const h = CpuHarness.flat32();
    const rw = h.run({ code: [0xb9, ...le32(0xc0000080), ...movEaxImm(EFER_NXE), 0x31, 0xd2, 0x0f, 0x30, 0x31, 0xc0, 0x0f, 0x32] });
    expect(rw.exception).toBeUndefined();
    expect(rw.regs.eax).toBe(EFER_NXE);
    const bad = h.run({ code: [0xb9, ...le32(0xc0000080), ...movEaxImm(1 << 2), 0x31, 0xd2, 0x0f, 0x30] });
    expect(bad.exception).toMatchObject({ vector: GP, errorCode: 0 });
  });

  it('CPUID advertises PSE, PAE, PGE, NX and 1 GiB pages', () => {
    const edx1 = cpuid(1, 0)[3];
    expect(edx1 & ((1 << 3) | (1 << 6) | (1 << 13))).toBe((1 << 3) | (1 << 6) | (1 << 13));
    expect(cpuid(0x80000000, 0)[0]).toBeGreaterThanOrEqual(0x80000001);
    expect(cpuid(0x80000001, 0)[3] & ((1 << 20) | (1 << 26))).toBe((1 << 20) | (1 << 26));
  });
});

describe('snapshots', () => {
  it('the PDPTE registers are saved and restored; the TLB starts empty after a load', () => {
    const h = CpuHarness.flat32();
    mapPae(h);
    h.write32(DATA_ADDR, 5);
    h.run({ code: movEaxMem(DATA_ADDR), setup: (c) => enablePae(c) });
    const saved = JSON.parse(JSON.stringify(h.cpu.saveState()));
    expect(saved.pdpte.slice(0, 2)).toEqual([PDPAE | P, 0]);
    h.cpu.s.pdpte.fill(0);
    // A stale translation for DATA_ADDR is in the TLB; remap it in memory, then load.
    h.write32(pteP(DATA_ADDR), FRAME_B | P | RW);
    h.write32(FRAME_B, 6);
    h.cpu.loadState(saved, h.cpu.stateVersion);
    expect(h.cpu.s.pdpte[0]).toBe(PDPAE | P);
    expect(h.cpu.readLinear(DATA_ADDR, 4)).toBe(6);
  });
});

describe('4-level paging walker (SDM 4.5), called directly', () => {
  const PML4 = 0x1d0000;
  function regs(efer = (1 << 8) | (1 << 10)): PagingRegs {
    return { cr0: CR0_PE | CR0_PG | CR0_WP, cr3: PML4, cr4: CR4_PAE, efer, pdpte: new Uint32Array(8) };
  }
  const idx = (lin: number, shift: number) => Number((BigInt(lin) >> BigInt(shift)) & 511n);
  /** Builds PML4 → PDPT → PD → PT for `lin` with `leafFlags`, tables at consecutive pages. */
  function build(h: CpuHarness, lin: number, frame: number, leafFlags: number, size: '4k' | '2m' | '1g', upperFlags = P | RW | US): void {
    h.fill(PML4, 0x4000);
    const pdpt = PML4 + 0x1000, pd = PML4 + 0x2000, pt = PML4 + 0x3000;
    h.write32(PML4 + 8 * idx(lin, 39), pdpt | upperFlags);
    if (size === '1g') {
      h.write32(pdpt + 8 * idx(lin, 30), (frame % 2 ** 32) | leafFlags | PS);
      h.write32(pdpt + 8 * idx(lin, 30) + 4, Math.floor(frame / 2 ** 32));
      return;
    }
    h.write32(pdpt + 8 * idx(lin, 30), pd | upperFlags);
    if (size === '2m') {
      h.write32(pd + 8 * idx(lin, 21), (frame % 2 ** 32) | leafFlags | PS);
      h.write32(pd + 8 * idx(lin, 21) + 4, Math.floor(frame / 2 ** 32));
      return;
    }
    h.write32(pd + 8 * idx(lin, 21), pt | upperFlags);
    h.write32(pt + 8 * idx(lin, 12), (frame % 2 ** 32) | leafFlags);
    h.write32(pt + 8 * idx(lin, 12) + 4, Math.floor(frame / 2 ** 32));
  }

  it('translates a high 48-bit address through 4 KiB pages and sets A on all four levels', () => {
    const h = CpuHarness.flat32();
    const lin = 0x7f12_3456_7abc;
    build(h, lin, 0x150000, P | RW | US, '4k');
    const out = new WalkResult();
    expect(walk4Level(h.mem, regs(), lin, Access.Read, true, -1, true, out)).toBe(true);
    expect(out.frame).toBe(0x150000);
    expect(out.pageSize).toBe(4096);
    for (const a of [PML4 + 8 * idx(lin, 39), PML4 + 0x1000 + 8 * idx(lin, 30), PML4 + 0x2000 + 8 * idx(lin, 21), PML4 + 0x3000 + 8 * idx(lin, 12)]) {
      expect(h.mem.read(a, 4) & (A | D)).toBe(A);
    }
    expect(walk4Level(h.mem, regs(), lin, Access.Write, true, -1, true, out)).toBe(true);
    expect(h.mem.read(PML4 + 0x3000 + 8 * idx(lin, 12), 4) & D).toBe(D);
  });

  it('maps 2 MiB and 1 GiB pages (frame = page base + offset bits of the address)', () => {
    const h = CpuHarness.flat32();
    const out = new WalkResult();
    const lin2m = 0x0000_8000_0000 + 0x12_3000 + 0x200000 * 5;
    build(h, lin2m, 0x4_0000_0000, P | RW, '2m');
    expect(walk4Level(h.mem, regs(), lin2m, Access.Read, false, -1, true, out)).toBe(true);
    expect(out.pageSize).toBe(0x200000);
    expect(out.frame).toBe(0x4_0000_0000 + 0x12_3000);
    const lin1g = 0x5555_4000_0000 + 0x1234_5678;
    build(h, lin1g, 0x8_4000_0000, P | RW, '1g');
    expect(walk4Level(h.mem, regs(), lin1g, Access.Read, false, -1, true, out)).toBe(true);
    expect(out.pageSize).toBe(0x40000000);
    expect(out.frame).toBe(0x8_4000_0000 + 0x1234_5000);
  });

  it('reserved bits: PS in a PML4E, bits 29:13 of a 1 GiB PDPTE, XD without NXE', () => {
    const h = CpuHarness.flat32();
    const out = new WalkResult();
    const lin = 0x1234_5678_9000;
    build(h, lin, 0x150000, P | RW, '4k');
    h.write32(PML4 + 8 * idx(lin, 39), (PML4 + 0x1000) | P | RW | PS);
    expect(walk4Level(h.mem, regs(), lin, Access.Write, false, -1, true, out)).toBe(false);
    expect(out.errorCode).toBe(0xb);
    build(h, lin, 0x4000_0000, P | RW, '1g');
    h.write32(PML4 + 0x1000 + 8 * idx(lin, 30), 0x4000_0000 | (1 << 13) | P | RW | PS);
    expect(walk4Level(h.mem, regs(), lin, Access.Read, false, -1, true, out)).toBe(false);
    expect(out.errorCode).toBe(9);
    build(h, lin, 0x150000, P | RW, '4k');
    h.write32(PML4 + 0x3000 + 8 * idx(lin, 12) + 4, 0x80000000);
    expect(walk4Level(h.mem, regs(), lin, Access.Fetch, false, -1, true, out)).toBe(false);
    expect(out.errorCode).toBe(9); // no I/D without NXE
    expect(walk4Level(h.mem, regs((1 << 8) | (1 << 10) | EFER_NXE), lin, Access.Fetch, false, -1, true, out)).toBe(false);
    expect(out.errorCode).toBe(0x11);
  });

  it('U/S must be set at every level for a user access, and nothing is marked accessed on a fault', () => {
    const h = CpuHarness.flat32();
    const out = new WalkResult();
    const lin = 0x0000_0040_2000;
    build(h, lin, 0x150000, P | RW | US, '4k', P | RW); // upper levels supervisor-only
    expect(walk4Level(h.mem, regs(), lin, Access.Read, true, -1, true, out)).toBe(false);
    expect(out.errorCode).toBe(5);
    expect(h.mem.read(PML4 + 8 * idx(lin, 39), 4) & A).toBe(0);
    expect(walk4Level(h.mem, regs(), lin, Access.Read, false, -1, true, out)).toBe(true);
    // A probe (setBits = false) leaves the flags alone.
    build(h, lin, 0x150000, P | RW | US, '4k');
    expect(walk4Level(h.mem, regs(), lin, Access.Write, true, -1, false, out)).toBe(true);
    expect(h.mem.read(PML4 + 0x3000 + 8 * idx(lin, 12), 4) & (A | D)).toBe(0);
  });
});
