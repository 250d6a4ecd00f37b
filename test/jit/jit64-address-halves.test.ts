/**
 * 64-bit mode: translated code tests the TLB on the int32 halves of an address, so the carry
 * (or borrow) out of the low half must reach the high half exactly as the interpreter's
 * 64-bit sum does — for a register plus a displacement, for base plus scaled index, and for
 * the stack (PUSH, POP, LEAVE, RET) across a 4 GiB boundary, into the negative canonical
 * half, and out of the canonical range (#GP). Every address a missing carry or borrow would
 * reach instead is mapped to a page with other contents, and each snippet first touches that
 * page (`add qword [r14], 0`), so that it holds the TLB entry both addresses share: a slip
 * then hits and reads or writes the wrong page instead of missing and taking the CPU's own
 * (correct) path.
 *
 * Bytes assembled with nasm (`bits 64`).
 */
import { describe, expect, it } from 'vitest';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { CODE_ADDR, LongModeHarness, PML4_ADDR, hex64, type Reg64Name, type Run64Result } from '../helpers/cpu-harness64.js';
import { countRunBlock } from '../helpers/run-block-counts.js';

const hex = (s: string) => (s.match(/../g) ?? []).map((b) => parseInt(b, 16));
/** add qword [r14], 0: leaves the TLB entry (read and write) of the page at R14. */
const TOUCH_R14 = hex('49830600');

/** Linear pages mapped for these tests, each to its own physical page, and the tag of its contents. */
const PAGES: [linear: bigint, phys: number, tag: number][] = [
  [0x0_ffff_f000n, 0x1c0000, 0xa1], // just below 4 GiB
  [0x1_0000_0000n, 0x1c1000, 0xa2], // 4 GiB: a carry from below lands here
  [0x1_ffff_f000n, 0x1c2000, 0xa3], // where a missing borrow from 4 GiB lands
  [0xffff_ffff_ffff_f000n, 0x1c3000, 0xa4], // the top of the negative half
  [0x7fff_0000_0000n, 0x1c4000, 0xa5], // where a missing carry out of 0x7fff_ffff_ffff lands
];
/** Page tables made for PAGES start here (the harness's own are at 0x8000-0xbfff). */
const TABLES = 0x1d0000;

/** The quadword each PAGES page holds at `offset`: its tag in the high half, the offset in the low. */
const marker = (tag: number, offset: number) => (BigInt(tag) << 32n) | BigInt(offset);

/** Maps PAGES with 4 KiB pages through new tables where the harness has none, and fills them. */
function mapPages(cpu: X86Cpu): void {
  const mem = cpu.bus.mem;
  let next = TABLES;
  const entry = (table: number, index: number): number => {
    const at = table + index * 8;
    let e = mem.read(at, 4);
    if ((e & 1) === 0) {
      for (let o = 0; o < 4096; o += 4) mem.write(next + o, 4, 0);
      e = next | 7;
      mem.write(at, 4, e);
      mem.write(at + 4, 4, 0);
      next += 4096;
    }
    return e & ~0xfff;
  };
  for (const [linear, phys, tag] of PAGES) {
    const idx = (shift: bigint) => Number((linear >> shift) & 511n);
    const pdpt = entry(PML4_ADDR, idx(39n));
    const pd = entry(pdpt, idx(30n));
    const pt = entry(pd, idx(21n));
    mem.write(pt + idx(12n) * 8, 4, phys | 7);
    mem.write(pt + idx(12n) * 8 + 4, 4, 0);
    for (let o = 0; o < 4096; o += 8) {
      mem.write(phys + o, 4, o);
      mem.write(phys + o + 4, 4, tag);
    }
  }
  // Nothing was cached from these tables: setup runs after the harness's reset.
}

const interp = LongModeHarness.flat64();
const jit = LongModeHarness.flat64({ jit: true });
const counts = countRunBlock(jit.cpu.blockEngine!);

interface Case {
  asm: string;
  code: string;
  regs: Partial<Record<Reg64Name, bigint>>;
  /** Where the access would go with the carry or borrow lost (touched first). */
  slip: bigint;
  /** What the run must end with (besides matching the interpreter). */
  expect: (r: Run64Result, read: (linearPage: number, offset: number) => bigint) => void;
}

/** A quadword of one of PAGES's physical pages, by its index in PAGES. */
function reader(h: LongModeHarness) {
  return (page: number, offset: number) => h.read64(PAGES[page]![1] + offset);
}

const CASES: Case[] = [
  {
    asm: 'mov rax, [rbx+0x10]: the low half carries into the high half (4 GiB)',
    code: '488b4310',
    slip: 0x0000_0008n,
    regs: { rbx: 0xffff_fff8n },
    expect: (r) => expect(hex64(r.regs.rax)).toBe(hex64(marker(0xa2, 8))),
  },
  {
    asm: 'mov rax, [rbx-0x20]: the low half borrows from the high half (below 4 GiB)',
    code: '488b43e0',
    slip: 0x1_ffff_fff0n,
    regs: { rbx: 0x1_0000_0010n },
    expect: (r) => expect(hex64(r.regs.rax)).toBe(hex64(marker(0xa1, 0xff0))),
  },
  {
    asm: 'mov rax, [rbx-0x20]: a borrow from a zero high half gives a negative canonical address',
    code: '488b43e0',
    slip: 0xffff_fff0n,
    regs: { rbx: 0x10n },
    expect: (r) => expect(hex64(r.regs.rax)).toBe(hex64(marker(0xa4, 0xff0))),
  },
  {
    asm: 'mov rax, [rbx+0x10]: a carry out of 0x7fff_ffff_ffff is non-canonical (#GP)',
    code: '488b4310',
    slip: 0x7fff_0000_0008n,
    regs: { rbx: 0x7fff_ffff_fff8n },
    expect: (r) => expect(r.exception?.vector).toBe(13),
  },
  {
    asm: 'mov rax, [rbx+rsi*8+0x10]: a scaled index carries into the high half',
    code: '488b44f310',
    slip: 0x0000_0008n,
    regs: { rbx: 0n, rsi: 0x1fff_ffffn },
    expect: (r) => expect(hex64(r.regs.rax)).toBe(hex64(marker(0xa2, 8))),
  },
  {
    asm: 'add [rbx+rsi*8+0x10], rcx: a read-modify-write across the carry',
    code: '48014cf310',
    slip: 0x0000_0008n,
    regs: { rbx: 0n, rsi: 0x1fff_ffffn, rcx: 1n },
    expect: (_r, read) => expect(hex64(read(1, 8))).toBe(hex64(marker(0xa2, 8) + 1n)),
  },
  {
    asm: 'mov [rbx+0x10], rcx: a write across the carry',
    code: '48894b10',
    slip: 0x0000_0008n,
    regs: { rbx: 0xffff_fff8n, rcx: 0x1234_5678_9abc_def0n },
    expect: (_r, read) => expect(hex64(read(1, 8))).toBe(hex64(0x1234_5678_9abc_def0n)),
  },
  {
    asm: 'push rcx; pop rdx: RSP borrows below 4 GiB and carries back',
    code: '515a',
    slip: 0x1_ffff_fff8n,
    regs: { rsp: 0x1_0000_0000n, rcx: 0x1122_3344_5566_7788n },
    expect: (r, read) => {
      expect(hex64(r.regs.rdx)).toBe(hex64(0x1122_3344_5566_7788n));
      expect(hex64(r.regs.rsp)).toBe(hex64(0x1_0000_0000n));
      expect(hex64(read(0, 0xff8))).toBe(hex64(0x1122_3344_5566_7788n));
    },
  },
  {
    asm: 'push qword [rbx-0x20]: a memory operand and RSP both borrow',
    code: 'ff73e0',
    slip: 0x1_ffff_fff8n,
    regs: { rsp: 0x1_0000_0000n, rbx: 0x1_0000_0010n },
    expect: (r, read) => {
      expect(hex64(r.regs.rsp)).toBe(hex64(0xffff_fff8n));
      expect(hex64(read(0, 0xff8))).toBe(hex64(marker(0xa1, 0xff0)));
    },
  },
  {
    asm: 'leave: RSP = RBP + 8 carries into the high half',
    code: 'c9',
    slip: 0x0_0000_0000n,
    regs: { rbp: 0xffff_fff8n },
    expect: (r) => {
      expect(hex64(r.regs.rbp)).toBe(hex64(marker(0xa1, 0xff8)));
      expect(hex64(r.regs.rsp)).toBe(hex64(0x1_0000_0000n));
    },
  },
  {
    asm: 'lea rax, [rbx+0x10]; lea rcx, [rbx-0x20]; lea rdx, [rbx+rsi*8+0x10]: LEA from the same halves',
    code: '488d4310488d4be0488d54f310',
    slip: 0n,
    regs: { rbx: 0xffff_fff8n, rsi: 0x1fff_ffffn },
    expect: (r) => {
      expect(hex64(r.regs.rax)).toBe(hex64(0x1_0000_0008n));
      expect(hex64(r.regs.rcx)).toBe(hex64(0xffff_ffd8n));
      expect(hex64(r.regs.rdx)).toBe(hex64(0x2_0000_0000n));
    },
  },
  {
    asm: 'lea rax, [rbx-0x20]: LEA borrows into a negative high half',
    code: '488d43e0',
    slip: 0n,
    regs: { rbx: 0x10n },
    expect: (r) => expect(hex64(r.regs.rax)).toBe(hex64(0xffff_ffff_ffff_fff0n)),
  },
];

function describeRun(r: Run64Result): Record<string, unknown> {
  return {
    exit: r.exit,
    rip: hex64(r.rip),
    regs: Object.fromEntries(Object.entries(r.regs).map(([k, v]) => [k, hex64(v)])),
    exception: r.exception?.vector,
    pages: PAGES.map(([, phys]) => Buffer.from(r.cpu.bus.mem.ram.subarray(phys, phys + 4096)).toString('hex')),
  };
}

describe('translated 64-bit accesses carry between the address halves as the interpreter', () => {
  for (const c of CASES) {
    it(c.asm, () => {
      const input = { code: [...TOUCH_R14, ...hex(c.code)], regs: { ...c.regs, r14: c.slip }, setup: mapPages };
      const a = interp.run(input);
      c.expect(a, reader(interp));
      const before = jit.cpu.retired;
      counts.translated = 0;
      const b = jit.run(input);
      c.expect(b, reader(jit));
      expect(describeRun(b)).toEqual(describeRun(a));
      // The instruction ran as translated code (a fault leaves it to the CPU's path).
      if (b.exception === undefined) expect(counts.translated, 'instructions run as translated code').toBe(jit.cpu.retired - before - 1);
      else expect(b.exception.rip, 'the fault is the tested instruction\'s').toBe(BigInt(CODE_ADDR + TOUCH_R14.length));
    });
  }

  it('ret: RSP = RSP + 8 carries into the high half', () => {
    // The return address at 0xffff_fff8 is the HLT the harness appends after the RET.
    const input = {
      code: hex('c3'),
      regs: { rsp: 0xffff_fff8n },
      setup: (cpu: X86Cpu) => {
        mapPages(cpu);
        cpu.bus.mem.write(PAGES[0]![1] + 0xff8, 4, CODE_ADDR + 1);
        cpu.bus.mem.write(PAGES[0]![1] + 0xffc, 4, 0);
      },
    };
    const a = interp.run(input);
    counts.translated = 0;
    const before = jit.cpu.retired;
    const b = jit.run(input);
    expect(a.exit).toBe('halt');
    expect(hex64(a.regs.rsp)).toBe(hex64(0x1_0000_0000n));
    expect(describeRun(b)).toEqual(describeRun(a));
    expect(counts.translated).toBe(jit.cpu.retired - before - 1);
  });
});
