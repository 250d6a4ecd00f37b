/**
 * The 64-bit JIT's specialised translations give what the interpreter gives: inlined 64-bit
 * ADD/SUB/CMP/logic/ADC/SBB/TEST/NEG/INC/DEC, shifts and rotates by a constant at 64 bits,
 * the 32-bit inlined forms in 64-bit mode (zero-extending the high half), MUL/IMUL, every
 * condition read straight from the lazy flags after each kind of producer (SETcc and Jcc
 * side exits), dropped dead flag stores (never one a fault sees), and the inlined TLB hit of
 * memory accesses at every size (page crossings, unaligned, FS/GS, the upper half,
 * non-canonical and unmapped addresses). Bytes assembled with nasm (`bits 64`).
 */
import { describe, expect, it } from 'vitest';
import { DATA_ADDR, HALF_ALIAS, HIGH_ALIAS, LongModeHarness, le32, le64, type Run64Input } from '../helpers/cpu-harness64.js';
import type { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';

/** jmp $+2: the code under test starts a block of its own. */
const START = [0xeb, 0x00];
const hex = (s: string) => (s.match(/../g) ?? []).map((b) => parseInt(b, 16));

const interp = LongModeHarness.flat64();
const jit = LongModeHarness.flat64({ jit: true });
const engine = jit.cpu.blockEngine as JitEngine;

/** Runs `input` on both engines; expects the same registers, RFLAGS, RIP, exception and count, and translated code run. */
function same(input: Run64Input, what: string): void {
  const i0 = interp.cpu.retired;
  const a = interp.run(input);
  const j0 = jit.cpu.retired;
  const b0 = engine.stats.blocksRun;
  const b = jit.run(input);
  expect({ what, regs: b.regs, rflags: b.rflags, rip: b.rip, exception: b.exception, cr2: b.cpu.s.cr2 })
    .toEqual({ what, regs: a.regs, rflags: a.rflags, rip: a.rip, exception: a.exception, cr2: a.cpu.s.cr2 });
  expect(jit.cpu.retired - j0, what).toBe(interp.cpu.retired - i0);
  expect(engine.stats.blocksRun, what).toBeGreaterThan(b0);
}

/** Values that exercise carries, signs and overflow at 64 and 32 bits. */
const VALUES = [0n, 1n, 0x7fn, 0xffffffffn, 0x100000000n, 0x7fffffffn, 0x80000000n, 0x7fffffffffffffffn, 0x8000000000000000n,
  0xfffffffffffffffen, 0xffffffffffffffffn, 0x9e3779b97f4a7c15n];
/** A smaller set for the long products of cases. */
const FEW = [0n, 1n, 0xffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x9e3779b97f4a7c15n];

/** Flag-setting instructions that leave each kind of lazy flags (64-, 32-, 16- and 8-bit, and eager ones). */
const PRODUCERS: Record<string, string> = {
  'add rax, rbx': '4801d8',
  'sub rax, rbx': '4829d8',
  'cmp rax, rbx': '4839d8',
  'adc rax, rbx': '4811d8',
  'sbb rax, rbx': '4819d8',
  'and rax, rbx': '4821d8',
  'or rax, rbx': '4809d8',
  'xor rax, rbx': '4831d8',
  'test rax, rbx': '4885d8',
  'inc rax': '48ffc0',
  'dec rax': '48ffc8',
  'neg rax': '48f7d8',
  'add rax, -5': '4883c0fb',
  'sbb rax, 0x7fffffff': '481dffffff7f',
  'shl rax, 1': '48d1e0',
  'sar rax, 7': '48c1f807',
  'add eax, ebx': '01d8',
  'cmp eax, ebx': '39d8',
  'inc eax': 'ffc0',
  'dec eax': 'ffc8',
  'sub al, bl': '28d8',
  'add al, bl': '00d8',
  'test al, bl': '84d8',
  'cmp ax, bx': '6639d8',
  'sbb ax, bx': '6619d8',
  'imul rcx, rbx': '480fafcb',
  '(flags from before the block)': '',
};

/** SETcc into 16 different byte destinations: r8b..r15b, cl, dl, sil, dil, bpl, bh, and [DATA_ADDR] for cc 14 and 15. */
function setAll(): number[] {
  const out: number[] = [];
  const dest: number[][] = [[0x41, 0xc0], [0x41, 0xc1], [0x41, 0xc2], [0x41, 0xc3], [0x41, 0xc4], [0x41, 0xc5], [0x41, 0xc6], [0x41, 0xc7],
    [0xc1], [0xc2], [0x40, 0xc6], [0x40, 0xc7], [0x40, 0xc5], [0xc7]];
  for (let cc = 0; cc < 16; cc++) {
    if (cc < 14) {
      const d = dest[cc]!;
      out.push(...d.slice(0, -1), 0x0f, 0x90 + cc, d[d.length - 1]!);
    } else {
      out.push(0x0f, 0x90 + cc, 0x04, 0x25, ...le32(DATA_ADDR + cc)); // setcc byte [abs]
    }
  }
  return out;
}

/** For each cc: jcc over `lea r15, [r15 + 2^cc]`, so that r15 collects the conditions that did not hold. */
function jccAll(): number[] {
  const out: number[] = [];
  for (let cc = 0; cc < 16; cc++) out.push(0x70 + cc, 7, 0x4d, 0x8d, 0xbf, ...le32(1 << cc));
  return out;
}

describe('JIT specialised translations, 64-bit mode', () => {
  it('every condition (SETcc and Jcc side exits) after each kind of flag producer', () => {
    const conds = setAll();
    const jccs = jccAll();
    for (const [name, bytes] of Object.entries(PRODUCERS)) {
      for (const a of VALUES) {
        for (const b of [0n, 1n, 0xffffffffffffffffn, a]) {
          for (const rflags of name.startsWith('(') ? [0, 0x8d5] : [0x8d5]) {
            const regs = { rax: a, rbx: b, rcx: 3n };
            same({ code: [...START, ...hex(bytes), ...conds], regs, rflags }, `${name} ${a} ${b} setcc`);
            same({ code: [...START, ...hex(bytes), ...jccs], regs, rflags }, `${name} ${a} ${b} jcc`);
          }
        }
      }
    }
  });

  it('ADC, SBB, INC and DEC (64, 32, 16 and 8 bits) after each kind of flag producer: carry in and CF kept as the interpreter', () => {
    const consumers: Record<string, string> = {
      'adc rcx, rdx': '4811d1', 'sbb rcx, rdx': '4819d1', 'adc ecx, edx': '11d1', 'sbb cx, dx': '6619d1',
      'inc rcx': '48ffc1', 'dec ecx': 'ffc9', 'inc cl': 'fec1', 'adc qword [rsi], rdx': '481116',
    };
    for (const [name, bytes] of Object.entries(PRODUCERS)) {
      for (const [cname, cbytes] of Object.entries(consumers)) {
        for (const a of FEW) {
          for (const b of [0n, 1n, a]) {
            for (const c of [0n, 0xffffffffffffffffn]) {
              // producer ; consumer ; setc r8b ; seto r9b ; setz r10b (flags read after the consumer, in the block)
              same({
                code: [...START, ...hex(bytes), ...hex(cbytes), 0x41, 0x0f, 0x92, 0xc0, 0x41, 0x0f, 0x90, 0xc1, 0x41, 0x0f, 0x94, 0xc2],
                regs: { rax: a, rbx: b, rcx: c, rdx: b, rsi: BigInt(DATA_ADDR) },
                rflags: 0x8d5,
                mem: [{ addr: DATA_ADDR, bytes: le64(c) }],
              }, `${name} ; ${cname} ${a} ${b} ${c}`);
            }
          }
        }
      }
    }
  });

  it('SHL, SHR, SAR, ROL, ROR at 64 bits by each constant count, and at 32 bits in 64-bit mode (the high half zeroed)', () => {
    for (const v of FEW) {
      for (let n = 0; n < 64; n++) {
        for (const [name, ext] of [['shl', 0xe0], ['shr', 0xe8], ['sar', 0xf8], ['rol', 0xc0], ['ror', 0xc8]] as const) {
          // add rcx, rdx (flags a rotate or a zero count must keep) ; op rax, n ; op ebx, n
          same({ code: [...START, 0x48, 0x01, 0xd1, 0x48, 0xc1, ext, n, 0xc1, ext - 0xe0 + 0xe3, n], regs: { rax: v, rbx: v, rcx: v, rdx: 0x8000000000000000n } },
            `${name} ${v} ${n}`);
          // the same on a memory operand: op qword [rsi], n
          same({ code: [...START, 0x48, 0x01, 0xd1, 0x48, 0xc1, ext - 0xc0 + 0x06, n, 0x48, 0x8b, 0x06], regs: { rcx: v, rdx: 1n, rsi: BigInt(DATA_ADDR) },
            mem: [{ addr: DATA_ADDR, bytes: le64(v) }] }, `${name} [m] ${v} ${n}`);
        }
      }
      // by 1 (D1) and by CL at 64 bits
      same({ code: [...START, 0x48, 0xd1, 0xe0, 0x48, 0xd1, 0xe8, 0x48, 0xd1, 0xf8, 0x48, 0xd1, 0xc0, 0x48, 0xd1, 0xc8], regs: { rax: v } }, `by 1 ${v}`);
      for (const cl of [0n, 1n, 31n, 32n, 33n, 63n, 64n]) {
        // add rbx, rdx ; shl rax, cl ; shr eax, cl
        same({ code: [...START, 0x48, 0x01, 0xd3, 0x48, 0xd3, 0xe0, 0xd3, 0xe8], regs: { rax: v, rcx: cl, rbx: v, rdx: 0x8000000000000000n } }, `by cl ${v} ${cl}`);
      }
    }
  });

  it('16- and 8-bit SHL, SHR, SAR by each constant count in 64-bit mode (legacy, REX and high-byte registers, memory): as the interpreter', () => {
    for (const v of FEW) {
      for (const n of [0, 1, 5, 8, 15, 16, 17, 31, 32]) {
        for (const ext of [4, 5, 7]) {
          // add rcx, rdx ; op ax, n ; op r9w, n ; op sil, n (REX) ; op bh, n ; op word [rdi], n ; movzx r10d, word [rdi]
          const code = [...START, 0x48, 0x01, 0xd1, 0x66, 0xc1, 0xc0 | (ext << 3), n, 0x66, 0x41, 0xc1, 0xc1 | (ext << 3), n,
            0x40, 0xc0, 0xc6 | (ext << 3), n, 0xc0, 0xc7 | (ext << 3), n, 0x66, 0xc1, 0x07 | (ext << 3), n, 0x44, 0x0f, 0xb7, 0x17];
          same({ code, regs: { rax: v, rbx: v, rcx: v, rdx: 1n, rsi: v, r9: v, rdi: BigInt(DATA_ADDR) }, mem: [{ addr: DATA_ADDR, bytes: le64(v) }] },
            `narrow ${ext} ${v} ${n}`);
        }
      }
    }
  });

  it('ROL/ROR whose CF and OF are read later, or replaced before anything reads them (their flag code dropped)', () => {
    for (const v of FEW) {
      for (const n of [1, 5, 31, 32, 33, 63]) {
        // add rcx, rdx ; rol rax, n ; ror ebx, n ; seto r8b ; setc r9b ; sets r10b (read: the
        // rotates' CF/OF and the add's SF) ; add rcx, rdx ; rol rax, n ; adc rsi, rdi (CF read) ;
        // ror rbx, n ; sub rdi, 1 (replaced)
        const code = hex('4801d148c1c005c1cb05410f90c0410f92c1410f98c24801d148c1c0054811fe48c1cb054883ef01');
        for (const at of [6, 9, 28, 35]) code[at] = n & (at === 9 ? 31 : 63);
        same({ code: [...START, ...code], regs: { rax: v, rbx: v, rcx: v, rdx: 0x8000000000000001n, rsi: v, rdi: 3n } }, `rotates ${v} ${n}`);
      }
    }
  });

  it('MUL and IMUL at 64 and 32 bits: RDX:RAX (zero-extended at 32 bits), the truncated products and flags as the interpreter', () => {
    const ops: Record<string, string> = {
      'mul rbx': '48f7e3', 'imul rbx': '48f7eb', 'mul ebx': 'f7e3', 'imul ebx': 'f7eb', 'imul rcx, rbx': '480fafcb',
      'imul rcx, rbx, -7': '486bcbf9', 'imul ecx, ebx': '0fafcb',
    };
    for (const [name, bytes] of Object.entries(ops)) {
      for (const a of VALUES) {
        for (const b of VALUES) {
          same({ code: [...START, ...hex(bytes)], regs: { rax: a, rcx: a, rbx: b, rdx: 0x1234567890n } }, `${name} ${a} ${b}`);
        }
      }
    }
  });

  it('dead flag stores are dropped only where nothing can see them: a fault and the end of the block see the last producer', () => {
    for (const a of VALUES) {
      // add rax, rbx ; sub rcx, rdx ; xor r8, r9 (each kills the one before) and the end of the block
      same({ code: [...START, 0x48, 0x01, 0xd8, 0x48, 0x29, 0xd1, 0x4d, 0x31, 0xc8], regs: { rax: a, rbx: a, rcx: 1n, rdx: a, r8: a, r9: 5n } }, `kills ${a}`);
      // add rax, rbx ; mov rcx, [rsi] (#PF: the handler's RFLAGS are the add's) ; sub rax, rbx
      same({ code: [...START, 0x48, 0x01, 0xd8, 0x48, 0x8b, 0x0e, 0x48, 0x29, 0xd8], regs: { rax: a, rbx: 0x8000000000000000n, rsi: 0x40000000n } }, `fault ${a}`);
      // cmp eax, ebx ; add qword [rsi], 1 (#PF, a memory destination) ; test rax, rax
      same({ code: [...START, 0x39, 0xd8, 0x48, 0x83, 0x06, 0x01, 0x48, 0x85, 0xc0], regs: { rax: a, rbx: 3n, rsi: 0x40000000n } }, `fault at load ${a}`);
      // The same on a read-only page (PD[1]: 2 MiB at 0x200000 -> 0, no RW; CR0.WP): the read
      // succeeds and the interpreter sets the add's flags before its write faults.
      same({
        code: [...START, 0x39, 0xd8, 0x48, 0x83, 0x06, 0x01, 0x48, 0x85, 0xc0],
        regs: { rax: a, rbx: 3n, rsi: 0x200000n + BigInt(DATA_ADDR) },
        mem: [{ addr: 0xb008, bytes: le64(0x85n) }, { addr: DATA_ADDR, bytes: le64(a) }],
        setup: (cpu) => {
          cpu.s.cr0 |= 0x10000;
        },
      }, `fault at store ${a}`);
    }
  });

  it('memory operands of every size through the inlined TLB hit: page crossings, unaligned, FS/GS, the upper half, faults', () => {
    // mov rax, [rsi] ; mov ebx, [rsi] ; movzx ecx, word [rsi] ; movzx edx, byte [rsi] ; add [rsi], r8 ;
    // add [rsi], r9d ; add [rsi], r10w ; add [rsi], r11b ; mov r12, [rsi] ; mov r13, fs:[rdi] ; mov gs:[rdi], r12
    const code = [...START, ...hex('488b068b1e0fb70e0fb6164c010644010e6644011644001e4c8b26644c8b2f654c8927')];
    const pattern = Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    const bases: [string, number | bigint][] = [['low', DATA_ADDR + 0x2000], ['high alias', HIGH_ALIAS + BigInt(DATA_ADDR + 0x3000)]];
    for (const [where, base] of bases) {
      for (const off of [0, 1, 2, 3, 4, 5, 7, 8, 0xff8, 0xff9, 0xffa, 0xffb, 0xffc, 0xffd, 0xffe, 0xfff]) {
        const rsi = BigInt(base) + BigInt(off);
        const phys = DATA_ADDR + (where === 'low' ? 0x2000 : 0x3000) + off;
        same({
          code,
          regs: { rsi, rdi: BigInt(off), r8: 0x0102030405060708n, r9: 0x80000001n, r10: 0xffffn, r11: 0x80n },
          mem: [{ addr: phys - 8, bytes: pattern }],
          setup: (cpu) => {
            cpu.s.segBase[4] = phys - off; // FS: fs:[rdi] = the same bytes
            cpu.s.segBase[5] = Number(HIGH_ALIAS) + DATA_ADDR + 0x4000; // GS in the upper half
          },
        }, `${where} +${off.toString(16)}`);
      }
    }
    // Unmapped (#PF), non-canonical (#GP), a read that crosses the end of the lower canonical half.
    for (const rsi of [0x40000000n, 0x0000800000000000n, 0x00007ffffffffffcn, 0xffff7ffffffffffcn, 0x0001000000000000n]) {
      same({ code: [...START, 0x48, 0x8b, 0x06], regs: { rsi } }, `read at ${rsi.toString(16)}`);
      same({ code: [...START, 0x48, 0x89, 0x06], regs: { rsi } }, `write at ${rsi.toString(16)}`);
      same({ code: [...START, 0x8b, 0x06], regs: { rsi } }, `read32 at ${rsi.toString(16)}`);
    }
    // Non-canonical addresses whose 48-bit forms are pages the TLB holds (mov rax, [rdi] fills
    // it first; then mov rbx, [rsi] and mov [rsi], ebx must #GP).
    for (const [rdi, rsi] of [[BigInt(DATA_ADDR), BigInt(DATA_ADDR) - (1n << 48n)], [HALF_ALIAS + BigInt(DATA_ADDR), BigInt(DATA_ADDR) + (1n << 47n)]]) {
      same({ code: [...START, 0x48, 0x8b, 0x07, 0x48, 0x8b, 0x1e], regs: { rdi, rsi: BigInt.asUintN(64, rsi!) } }, `alias read ${rsi!.toString(16)}`);
      same({ code: [...START, 0x48, 0x8b, 0x07, 0x89, 0x1e], regs: { rdi, rsi: BigInt.asUintN(64, rsi!) } }, `alias write ${rsi!.toString(16)}`);
    }
  });

  it('PUSH, POP, CALL, RET and LEAVE through the inlined stack accesses, and a stack that faults', () => {
    // push rbx ; push 0x12345678 ; pop rcx ; pop rdx ; call .f ; jmp .e ; .f: push rbp ; mov rbp, rsp ; push rax ; leave ; ret ; .e: pop rsp
    const code = [...START, ...hex('536878563412595ae802000000eb07554889e550c9c390'), 0x54, 0x5c];
    for (const rsp of [0x80000n, 0x80004n, 0x80001n, HIGH_ALIAS + 0x80000n, 0x40000010n, 0x0000800000000010n]) {
      same({ code, regs: { rsp, rbx: 0xdeadbeefcafebaben, rax: 7n, rbp: 9n } }, `stack at ${rsp.toString(16)}`);
      // inc rbx ; then a POP, a RET or a LEAVE whose read faults (#PF, #SS or #GP)
      for (const op of [[0x59], [0xc3], [0xc2, 0x10, 0x00], [0xc9], [0x8f, 0x06]]) {
        same({ code: [...START, 0x48, 0xff, 0xc3, ...op], regs: { rsp: rsp + 0x1000n, rbp: rsp + 0x1000n, rsi: BigInt(DATA_ADDR) } }, `${op} at ${rsp.toString(16)}`);
      }
    }
    // 36 runs, each compiling its blocks afresh (threshold 0): over a minute on a loaded 2-core host.
  }, 300_000);
});
