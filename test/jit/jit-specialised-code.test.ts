/**
 * The JIT's specialised translations give what the interpreter gives: inlined MUL/IMUL,
 * shifts by a constant, ADC/SBB, INC/DEC and conditions read straight from the lazy flags
 * after each kind of flag-setting instruction, dropped dead flag stores (never one a fault or
 * a block exit can see), and the inlined TLB hit of flat memory accesses with paging on
 * (page crossings, faults in the middle of a block).
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';
import { translateBlock } from '../../src/cpu/x86/jit/block-compiler.js';
import { writeCr0, writeCr3, writeCr4 } from '../../src/cpu/x86/control-regs.js';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** jmp $+2: the first instruction after a reset is interpreted, so the code under test starts a block. */
const START = [0xeb, 0x00];

const interp = CpuHarness.flat32();
const jit = CpuHarness.flat32({ jit: true });

type Input = Parameters<CpuHarness['run']>[0];

/** Runs `input` on both engines and expects the same registers, flags, exception and count. */
function same(input: Input, what: string): void {
  const a = interp.run(input);
  const b = jit.run(input);
  expect({ what, regs: b.regs, eflags: b.eflags, exception: b.exception, eip: b.eip })
    .toEqual({ what, regs: a.regs, eflags: a.eflags, exception: a.exception, eip: a.eip });
  expect(jit.cpu.retired).toBe(interp.cpu.retired);
}

/** Values that exercise carries, signs and overflow at 32 bits. */
const VALUES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0x9e3779b9, 0xdeadbeef];

/** Flag-setting instructions that leave each kind of lazy flags (and one eager kind). */
const PRODUCERS: Record<string, number[]> = {
  'add eax, ebx': [0x01, 0xd8],
  'sub eax, ebx': [0x29, 0xd8],
  'cmp eax, ebx': [0x39, 0xd8],
  'adc eax, ebx': [0x11, 0xd8],
  'sbb eax, ebx': [0x19, 0xd8],
  'and eax, ebx': [0x21, 0xd8],
  'test eax, ebx': [0x85, 0xd8],
  'inc eax': [0x40],
  'dec eax': [0x48],
  'neg eax': [0xf7, 0xd8],
  'shl eax, 1': [0xd1, 0xe0],
  '(flags from before the block)': [],
};

describe('JIT specialised translations', () => {
  it('MUL, IMUL (one, two and three operands) at 32 bits: EDX:EAX and flags as the interpreter', () => {
    for (const a of VALUES) {
      for (const b of VALUES) {
        same({ code: [...START, 0xf7, 0xe3], regs: { eax: a, ebx: b } }, `mul ${a} ${b}`);
        same({ code: [...START, 0xf7, 0xeb], regs: { eax: a, ebx: b } }, `imul ${a} ${b}`);
        same({ code: [...START, 0x0f, 0xaf, 0xc3], regs: { eax: a, ebx: b } }, `imul eax, ebx ${a} ${b}`);
        same({ code: [...START, 0x69, 0xc3, ...le32(a)], regs: { ebx: b } }, `imul eax, ebx, imm32 ${a} ${b}`);
        // mul dword [DATA_ADDR] (memory source through the inlined read)
        same({ code: [...START, 0xf7, 0x25, ...le32(DATA_ADDR)], regs: { eax: a }, mem: [{ addr: DATA_ADDR, bytes: le32(b) }] }, `mul [m] ${a} ${b}`);
      }
      same({ code: [...START, 0x6b, 0xc3, 0x80], regs: { ebx: a } }, `imul eax, ebx, -128 ${a}`);
    }
  });

  it('16- and 8-bit SHL, SHR, SAR by each constant count (register and memory): result and flags as the interpreter', () => {
    for (const v of VALUES) {
      for (const n of [0, 1, 2, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33]) {
        for (const [name, ext] of [['shl', 4], ['shr', 5], ['sar', 7]] as const) {
          // add ecx, edx (flags a count of 0 must keep) ; op ax, n ; op bl, n ; op word [m], n ; op byte [m+2], n
          const code = [...START, 0x01, 0xd1, 0x66, 0xc1, 0xc0 | (ext << 3), n, 0xc0, 0xc3 | (ext << 3), n,
            0x66, 0xc1, 0x05 | (ext << 3), ...le32(DATA_ADDR), n, 0xc0, 0x05 | (ext << 3), ...le32(DATA_ADDR + 2), n,
            0x8b, 0x35, ...le32(DATA_ADDR)]; // mov esi, [m]
          same({ code, regs: { eax: v, ebx: v, ecx: v, edx: 0x80000000 }, mem: [{ addr: DATA_ADDR, bytes: le32(v) }] }, `${name} narrow ${v} ${n}`);
        }
      }
    }
  });

  it('SHL, SHR, SAR, ROL, ROR by each constant count and SHL, SHR, SAR by CL: result and flags as the interpreter, count 0 keeping every flag', () => {
    for (const v of VALUES) {
      for (let n = 0; n < 32; n++) {
        for (const [name, ext] of [['shl', 0xe0], ['shr', 0xe8], ['sar', 0xf8], ['rol', 0xc0], ['ror', 0xc8]] as const) {
          // add ecx, edx (sets flags to check that count 0 keeps them) ; op eax, n
          same({ code: [...START, 0x01, 0xd1, 0xc1, ext, n], regs: { eax: v, ecx: v, edx: 0x80000000 } }, `${name} ${v} ${n}`);
        }
      }
      same({ code: [...START, 0xd1, 0xe0, 0xd1, 0xe8, 0xd1, 0xf8, 0xd1, 0xc0, 0xd1, 0xc8], regs: { eax: v } }, `shifts by 1 ${v}`);
      for (const cl of [0, 1, 5, 31, 32, 33, 255]) {
        for (const [name, ext] of [['shl', 0xe0], ['shr', 0xe8], ['sar', 0xf8]] as const) {
          // add ebx, edx ; op eax, cl
          same({ code: [...START, 0x01, 0xd3, 0xd3, ext], regs: { eax: v, ecx: cl, ebx: v, edx: 0x80000000 } }, `${name} ${v} cl=${cl}`);
        }
      }
      // shl dword [DATA_ADDR], 7
      same({ code: [...START, 0xc1, 0x25, ...le32(DATA_ADDR), 7], mem: [{ addr: DATA_ADDR, bytes: le32(v) }] }, `shl [m], 7 ${v}`);
    }
  });

  it('ADC, SBB, INC, DEC and every condition after each kind of flag producer', () => {
    for (const [name, producer] of Object.entries(PRODUCERS)) {
      for (const a of [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x12345678, 0x9e3779b9]) {
        for (const b of [0, 1, 0x80000000, 0xffffffff, a]) {
          for (const cf of [0, 1]) {
            const regs = { eax: a, ebx: b, ecx: 0x80000000, edx: 0xffffffff };
            // producer ; adc ecx, edx ; (flags of adc)
            same({ code: [...START, ...producer, 0x11, 0xd1], regs, eflags: cf }, `${name}; adc ${a} ${b} ${cf}`);
            same({ code: [...START, ...producer, 0x19, 0xd1], regs, eflags: cf }, `${name}; sbb ${a} ${b} ${cf}`);
            // producer ; inc ecx / dec edx: CF kept
            same({ code: [...START, ...producer, 0x41], regs, eflags: cf }, `${name}; inc ${a} ${b} ${cf}`);
            same({ code: [...START, ...producer, 0x4a], regs, eflags: cf }, `${name}; dec ${a} ${b} ${cf}`);
            // producer ; setcc for every cc into consecutive bytes, then cmovcc and jcc
            const setccs: number[] = [];
            for (let cc = 0; cc < 16; cc++) setccs.push(0x0f, 0x90 | cc, 0x05, ...le32(DATA_ADDR + cc));
            const input = { code: [...START, ...producer, ...setccs], regs, eflags: cf | 0x800 | 0x80 | 0x4, clear: [{ addr: DATA_ADDR, length: 16 }] };
            const x = interp.run(input);
            const y = jit.run(input);
            expect([...y.read(DATA_ADDR, 16)], `${name}; setcc ${a} ${b} ${cf}`).toEqual([...x.read(DATA_ADDR, 16)]);
            if (cf === 0 || (b !== 1 && b !== a)) continue;
            for (let cc = 0; cc < 16; cc++) {
              // producer ; cmovcc esi, edx
              same({ code: [...START, ...producer, 0x0f, 0x40 | cc, 0xf2], regs, eflags: cf }, `${name}; cmov${cc} ${a} ${b}`);
              // producer ; jcc +5 ; mov esi, 1
              same({ code: [...START, ...producer, 0x70 | cc, 0x05, 0xbe, ...le32(1)], regs, eflags: cf }, `${name}; j${cc} ${a} ${b}`);
            }
          }
        }
      }
    }
  });

  it('every condition, ADC, SBB and INC after 8- and 16-bit ADD, SUB, CMP, ADC, SBB, AND and TEST, read inline from the lazy flags', () => {
    const producers: Record<string, number[]> = {
      'add al, bl': [0x00, 0xd8], 'sub al, bl': [0x28, 0xd8], 'cmp al, bl': [0x38, 0xd8], 'adc al, bl': [0x10, 0xd8],
      'sbb al, bl': [0x18, 0xd8], 'and al, bl': [0x20, 0xd8], 'test al, bl': [0x84, 0xd8], 'cmp al, 0x80': [0x3c, 0x80],
      'add ax, bx': [0x66, 0x01, 0xd8], 'sub ax, bx': [0x66, 0x29, 0xd8], 'cmp ax, bx': [0x66, 0x39, 0xd8],
      'adc ax, bx': [0x66, 0x11, 0xd8], 'sbb ax, bx': [0x66, 0x19, 0xd8], 'test ax, bx': [0x66, 0x85, 0xd8],
      'cmp word [m], 0x8000': [0x66, 0x81, 0x3d, ...le32(DATA_ADDR + 32), 0x00, 0x80],
    };
    const values = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0xbeef];
    const setccs: number[] = [];
    for (let cc = 0; cc < 16; cc++) setccs.push(0x0f, 0x90 | cc, 0x05, ...le32(DATA_ADDR + cc));
    const ram = new Uint8Array(0x1000);
    for (const [name, producer] of Object.entries(producers)) {
      // Only PF (conditions 10 and 11) still asks the CPU.
      ram.fill(0);
      ram.set([...producer, ...setccs]);
      const body = translateBlock({ ram, flatMask: 0x3f, tlbSet: 0, index: 0, bytes: producer.length + setccs.length, eip: 0, ss32: true, maxInstructions: 48 }).body;
      expect(body.split('cpu.condition(').length - 1, `${name}: conditions through the CPU`).toBe(2);
      for (const a of values) {
        for (const b of values) {
          for (const cf of [0, 1]) {
            const regs = { eax: a | 0xabcd0000, ebx: b, ecx: 0x80, edx: 0xffffffff };
            const mem = [{ addr: DATA_ADDR + 32, bytes: [a & 0xff, a >>> 8] }];
            same({ code: [...START, ...producer, 0x10, 0xd1], regs, mem, eflags: cf }, `${name}; adc cl, dl ${a} ${b} ${cf}`);
            same({ code: [...START, ...producer, 0x18, 0xd1], regs, mem, eflags: cf }, `${name}; sbb cl, dl ${a} ${b} ${cf}`);
            same({ code: [...START, ...producer, 0x41], regs, mem, eflags: cf }, `${name}; inc ecx ${a} ${b} ${cf}`);
            const input = { code: [...START, ...producer, ...setccs], regs, mem, eflags: cf | 0x800 | 0x80 | 0x4, clear: [{ addr: DATA_ADDR, length: 16 }] };
            const x = interp.run(input);
            const y = jit.run(input);
            expect([...y.read(DATA_ADDR, 16)], `${name}; setcc ${a} ${b} ${cf}`).toEqual([...x.read(DATA_ADDR, 16)]);
          }
        }
      }
    }
  });

  it('drops the flag stores of an instruction whose flags are replaced before anything can see them', () => {
    // mul ebx ; add eax, ecx: MUL's flags are dead.
    const code = [0xf7, 0xe3, 0x01, 0xc8];
    const ram = new Uint8Array(0x1000);
    ram.set(code);
    const body = (bytes: number[]) => {
      ram.fill(0);
      ram.set(bytes);
      return translateBlock({ ram, flatMask: 0x3f, tlbSet: 0, index: 0, bytes: bytes.length, eip: 0, ss32: true, maxInstructions: 48 }).body;
    };
    const flagStores = (text: string) => text.split('/*F{*/').length - 1;
    expect(flagStores(body(code))).toBe(1);
    // mul ebx ; mov edx, [esi] ; add eax, ecx: the read may fault, so MUL's flags must be in place.
    expect(flagStores(body([0xf7, 0xe3, 0x8b, 0x16, 0x01, 0xc8]))).toBe(2);
    // mul ebx ; jc +0 ; ...: read by the Jcc.
    expect(flagStores(body([0xf7, 0xe3, 0x72, 0x00]))).toBe(1);
    // mul ebx ; inc ecx ; add: INC keeps CF, so it reads MUL's.
    expect(flagStores(body([0xf7, 0xe3, 0x41, 0x01, 0xc8]))).toBe(2);
    // add eax, ecx as the last instruction: the block exit sees it.
    expect(flagStores(body([0x01, 0xc8]))).toBe(1);
  });

  it('a fault after a flag-setting instruction sees its flags, even when a later one would replace them', () => {
    for (const a of VALUES) {
      // add eax, ebx ; div ecx (ecx = 0: #DE) ; sub eax, eax
      same({ code: [...START, 0x01, 0xd8, 0xf7, 0xf1, 0x29, 0xc0], regs: { eax: a, ebx: 0x80000000, ecx: 0 } }, `add; div0 ${a}`);
      // mul ebx ; div ecx ; add eax, ebx
      same({ code: [...START, 0xf7, 0xe3, 0xf7, 0xf1, 0x01, 0xd8], regs: { eax: a, ebx: 3, ecx: 0 } }, `mul; div0 ${a}`);
      // shl eax, 5 ; mov edx, [DATA_ADDR + 0xffd] through DS limited to 0xfff: #GP ; add
      same({
        code: [...START, 0xc1, 0xe0, 0x05, 0x8b, 0x15, ...le32(0xffd), 0x01, 0xd8],
        regs: { eax: a, ebx: 1 },
        setup: (cpu) => {
          cpu.s.segSel[3] = 0x18;
          cpu.s.segLimit[3] = 0xfff;
        },
      }, `shl; #GP ${a}`);
    }
  });
});

/** Paging on: the code's linear addresses are at 0xC0000000 + physical (as a Linux kernel's). */
const KERNEL = 0xc0000000;
const PD = 0x180000;
const PT = 0x181000;

function paged(h: CpuHarness, cpu: X86Cpu): void {
  const s = cpu.s;
  h.fill(PD, 0x2000);
  h.write32(PD, 0x83); // 0-4 MiB identity (4 MiB page): tables, handlers, stack
  h.write32(PD + 0x300 * 4, PT | 3); // 0xC0000000: 4 KiB pages over the first 2 MiB, except 0x113000
  for (let i = 0; i < 512; i++) if (i !== 0x113) h.write32(PT + i * 4, (i << 12) | 3);
  writeCr4(cpu, 0x10);
  writeCr3(cpu, PD);
  writeCr0(cpu, s.cr0 | 0x80000000);
  s.eip = (KERNEL + s.eip) >>> 0;
}

describe('JIT inlined memory access with paging', () => {
  const run = (h: CpuHarness, code: number[], regs: Input['regs'], eflags = 0) =>
    h.run({ code, regs, eflags, setup: (cpu) => paged(h, cpu), mem: [{ addr: DATA_ADDR, bytes: le32(0x11223344) }, { addr: DATA_ADDR + 0xffe, bytes: [0xaa, 0xbb, 0xcc, 0xdd] }] });

  it('reads and writes at kernel addresses, across a page boundary and into a missing page as the interpreter', () => {
    const base = (KERNEL + DATA_ADDR) >>> 0;
    const cases: [string, number[]][] = [
      // mov eax, [esi] ; add eax, [esi + 4] ; mov [esi + 8], eax ; mov ebx, [esi + 8]
      ['aligned', [0x8b, 0x06, 0x03, 0x46, 0x04, 0x89, 0x46, 0x08, 0x8b, 0x5e, 0x08]],
      // mov eax, [esi + 0xffe] (crosses into the next page) ; mov [esi + 0xffd], eax
      ['page crossing', [0x8b, 0x86, ...le32(0xffe), 0x89, 0x86, ...le32(0xffd)]],
      // mov ax, [esi + 1] ; mov [esi + 3], al ; mov cx, [esi + 0xfff]
      ['narrow', [0x66, 0x8b, 0x46, 0x01, 0x88, 0x46, 0x03, 0x66, 0x8b, 0x8e, ...le32(0xfff)]],
      // add eax, ebx ; mov ecx, [esi + 0x3000] (page not present: #PF) ; sub eax, eax
      ['#PF mid-block', [0x01, 0xd8, 0x8b, 0x8e, ...le32(0x3000), 0x29, 0xc0]],
      // push eax ; add eax, ebx ; mov [esi + 0x3ffc], eax (#PF on the write) ; pop ecx
      ['#PF on write', [0x50, 0x01, 0xd8, 0x89, 0x86, ...le32(0x3ffc), 0x59]],
    ];
    for (const [what, body] of cases) {
      const code = [...START, ...body];
      const regs = { esi: base, eax: 0x7fffffff, ebx: 1 };
      const a = run(interp, code, regs, 1);
      const b = run(jit, code, regs, 1);
      expect({ what, regs: b.regs, eflags: b.eflags, exception: b.exception, mem: [...b.read(DATA_ADDR, 16)], tail: [...b.read(DATA_ADDR + 0xff8, 16)] })
        .toEqual({ what, regs: a.regs, eflags: a.eflags, exception: a.exception, mem: [...a.read(DATA_ADDR, 16)], tail: [...a.read(DATA_ADDR + 0xff8, 16)] });
      expect(jit.cpu.retired, what).toBe(interp.cpu.retired);
    }
    expect(run(jit, [...START, 0x01, 0xd8, 0x8b, 0x8e, ...le32(0x3000)], { esi: base, eax: 0x7fffffff, ebx: 1 }).exception?.vector).toBe(14);
  });
});
