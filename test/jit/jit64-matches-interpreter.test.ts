/**
 * The JIT against the interpreter in 64-bit mode. Snippets of the instructions it translates —
 * every operand size, REX registers and byte registers, base/index/scale and RIP-relative
 * memory operands (with and without an immediate after the displacement), FS/GS, LOCK, the
 * stack, near branches direct and indirect — run on both engines from the same random
 * registers, RFLAGS and memory must end with the same registers, RFLAGS, RIP, memory,
 * exception and instruction count; and every instruction but the closing HLT must have run as
 * translated code (when nothing faulted). Half of the trials use small register values, so
 * that index registers address the data window; the others use full 64-bit values, which
 * also send accesses to non-canonical addresses (#GP/#SS through the CPU's own path).
 *
 * Bytes assembled with nasm (`bits 64`, `org 0x100000` = CODE_ADDR).
 */
import { describe, expect, it } from 'vitest';
import { DATA_ADDR, LongModeHarness, REG64_NAMES, STACK_TOP, hex64, type Reg64Name, type Run64Result } from '../helpers/cpu-harness64.js';
import { countRunBlock } from '../helpers/run-block-counts.js';

/** Snippets marked `faults` fault (#DE) from every random input: only the outcomes are compared. */
const SNIPPETS: [asm: string, code: string, faults?: 'faults'][] = [
  ['add eax, ebx; sub cx, dx; xor r8b, r9b; and sil, dil; or ah, bl; adc r10d, r11d; sbb rax, rcx', '01d86629d14530c84020fe08dc4511da4819c8'],
  ['add r12, [rsi+8]; sub [rsi+rcx*8+16], rdx; cmp byte [rsi], 0x7f; test dword [rsi+4], 0x80000000', '4c036608482954ce10803e7ff7460400000080'],
  ['add ebx, [rsi]; sub [rdi-8], r9w; xor [rsi+1], ah; or r11b, [rdi]; and [rsi], r13d; adc al, 5; sbb ax, 0x1234; cmp eax, 0x7fffffff; add rax, -7; xor rax, 0x7fffffff', '031e6644294ff8306601440a1f44212e1405661d34123dffffff7f4883c0f94835ffffff7f'],
  ['and rcx, -16; or r9, byte -1; add r9, 0x12345678; cmp r15, byte 3; sub qword [rsi+8], byte -2; xor dword [rdi], 0xdeadbeef; cmp word [rsi], 0x8000; adc byte [rsi+3], 0x80', '4883e1f04983c9ff4981c1785634124983ff0348836e08fe8137efbeadde66813e008080560380'],
  ['inc r9d; dec word [rsi]; inc byte [rsi+1]; inc qword [rsi+8]; dec r14; inc sil; dec bh; inc cx', '41ffc166ff0efe460148ff460849ffce40fec6fecf66ffc1'],
  ['lock add [rsi], eax; lock xadd [rsi], rbx; lock xadd [rdi], ecx; xadd r8w, r9w; lock cmpxchg [rsi], rcx; cmpxchg r9d, r10d; lock cmpxchg [rsi], ebx; cmpxchg al, bl; lock inc dword [rsi]; lock dec qword [rdi]; lock or [rsi], r8; lock and byte [rsi], 0xf0', 'f00106f0480fc11ef00fc10f66450fc1c8f0480fb10e450fb1d1f00fb11e0fb0d8f0ff06f048ff0ff04c0906f08026f0'],
  ['mov r8, [rsi]; mov [rsi+8], r9d; mov al, [rsi]; mov [rsi], sil; mov rax, 0x123456789abcdef0; mov r10d, 0x87654321; mov qword [rsi], -5; mov word [rsi+2], 0x1234; mov bh, 7; mov r15b, 9; mov byte [rdi], 0xaa; mov dword [rsi+4], 0x80000001; mov r11w, 0xbeef; mov ecx, edx; mov r13, r12; mov spl, al', '4c8b0644894e088a0640883648b8f0debc9a7856341241ba2143658748c706fbffffff66c746023412b70741b709c607aac74604010000806641bbefbe89d14d89e54088c4'],
  ['movzx r9, byte [rsi]; movzx eax, bx; movsx rax, word [rsi]; movsx r8d, cl; movsxd rdx, dword [rsi]; movsxd rdx, eax; movzx r10w, byte [rdi]; movsx ecx, byte [rsi+3]; movzx r12d, sil; movsx edx, ah', '4c0fb60e0fb7c3480fbf06440fbec14863164863d066440fb6170fbe4e03440fb6e60fbed4'],
  ['lea rax, [rsi+rcx*4+0x10]; lea eax, [rbx+rcx]; lea r8, [rel $+0x100]; lea rax, [rax+rax*2]; lea r9d, [rel $-0x200]; lea cx, [rdx+rbx*8-4]; lea r14, [r13+r12*2+0x7fffffff]; lea rdx, [0x12345678]; lea rbp, [rbp+r11-0x80000000]; lea rax, [rsp+8]', '488d448e108d040b4c8d05f9000000488d0440448d0df9fdffff668d4cdafc4f8db465ffffff7f488d1425785634124a8dac1d00000080488d442408'],
  ['mov rax, [rel $$+0x10010]; add dword [rel $$+0x10020], 0x12345678; cmp byte [rel $$+0x10000], 5; mov qword [rel $$+0x10008], -1; shl dword [rel $$+0x10000], 3; imul eax, [rel $$+0x10004], 1000; test word [rel $$+0x10006], 0x8001; mov [rel $$+0x10030], r12', '488b050900010081050f00010078563412803de8ff00000548c705e5ff0000ffffffffc125d6ff0000036905d0ff0000e803000066f705c9ff000001804c8925ecff0000'],
  ['shl eax, cl; sar r9w, 3; rol byte [rsi], 1; shr rdx, cl; rcl r8d, 1; rcr word [rsi], cl; shl qword [rsi], 7; sar bl, cl; ror ah, 3; shr r10d, 31; sal sil, 1', 'd3e06641c1f903d00648d3ea41d1d066d31e48c12607d2fbc0cc0341c1ea1f40d0e6'],
  ['shld eax, ebx, 5; shrd [rsi], rcx, cl; shld r9w, r10w, cl; shrd rax, rdx, 60; shld [rdi], r11d, 17', '0fa4d805480fad0e66450fa5d1480facd03c440fa41f11'],
  ['imul eax, ebx; imul r8, [rsi], 100; imul cx, dx, -3; mul ecx; imul r9d; mul byte [rsi]; imul word [rsi]; imul r10, r11; imul rax, rbx, 0x7ffffff0; mul qword [rsi]; imul r12; imul ebx, ecx, byte -100', '0fafc34c6b0664666bcafdf7e141f7e9f62666f72e4d0fafd34869c3f0ffff7f48f72649f7ec6bd99c'],
  ['div ecx; idiv r8; div word [rsi]; idiv bl; div rcx; idiv dword [rsi]', 'f7f149f7f866f736f6fb48f7f1f73e', 'faults'],
  ['cmovz rax, rbx; cmovnz ecx, edx; cmovl r8w, [rsi]; cmovge r9, [rsi+8]; cmova r10d, [rdi]; cmovbe r11d, r12d; cmovs eax, ebx; cmovp rcx, rdx', '480f44c30f45ca66440f4c064c0f4d4e08440f4717450f46dc0f48c3480f4aca'],
  ['cmp rax, rbx; setl al; setb sil; setnz byte [rsi]; setg r9b; setle ah; seto dil; setnp byte [rdi+1]; sets r15b', '4839d80f9cc0400f92c60f9506410f9fc10f9ec4400f90c70f9b4701410f98c7'],
  ['xchg rax, r8; xchg eax, ecx; xchg [rsi], ebx; xchg r8b, al; xchg r8, rax; xchg ax, dx; xchg [rdi], r9; xchg ah, bl; xchg r13d, r13d; xchg esi, eax', '499091871e4486c0499066924c870f86e34587ed96'],
  ['cbw; cwde; cdqe; cwd; cdq; cqo; bswap eax; bswap r12; bswap rdx; bswap r9d', '669898489866999948990fc8490fcc480fca410fc9'],
  ['push rbx; push r12; pop rcx; pop r13; push qword [rsi]; push 0x12345678; push -2; push rsp; pop rsp', '53415459415dff3668785634126afe545c'],
  ['call .n; .n: pop rax', 'e80000000058'],
  ['call .f; jmp .e; .f: mov eax, 1; ret; .e: add eax, 2', 'e802000000eb06b801000000c383c002'],
  ['call .f; jmp .e; .f: ret 16; .e: nop', 'e802000000eb03c2100090'],
  ['push rbp; mov rbp, rsp; sub rsp, 32; mov [rbp-8], rax; mov [rsp], rbx; leave', '554889e54883ec20488945f848891c24c9'],
  ['mov ecx, 5; .l: add rax, rcx; dec ecx; jnz .l', 'b9050000004801c8ffc975f9'],
  ['mov ecx, 3; .l: add rax, rcx; dec ecx; jz near .e; jmp near .l; .e: nop', 'b9030000004801c8ffc90f8405000000e9f0ffffff90'],
  ['lea rax, [rel .t]; jmp rax; ud2; .t: mov ebx, 1', '488d0504000000ffe00f0bbb01000000'],
  ['lea rbx, [rel .f]; mov [rsi], rbx; call [rsi]; jmp .e; .f: mov ecx, 9; ret; .e: nop', '488d1d0700000048891eff16eb06b909000000c390'],
  ['lea rbx, [rel .f]; call rbx; jmp .e; .f: inc ecx; ret; .e: nop', '488d1d04000000ffd3eb03ffc1c390'],
  ['cmp rax, rbx; jl .a; mov ecx, 1; jmp .e; .a: mov ecx, 2; .e: nop', '4839d87c07b901000000eb05b90200000090'],
  ['test eax, eax; js .a; jo .a; jp .a; jbe .a; jg .a; mov edx, 1; .a: inc edx', '85c0780d700b7a0976077f05ba01000000ffc2'],
  ['clc; adc eax, 0; stc; adc ebx, 0; cmc; sbb ecx, 0; cld; std; cld', 'f883d000f983d300f583d900fcfdfc'],
  ['neg eax; neg r9w; neg byte [rsi]; neg qword [rdi]; not ecx; not r10b; not word [rsi]; not rdx', 'f7d86641f7d9f61e48f71ff7d141f6d266f71648f7d2'],
  ['test al, 0x81; test rax, 0x7fffffff; test rcx, -2; test r9b, r10b; test [rsi], rbx; test ax, 0x8000; test dil, 1', 'a88148a9ffffff7f48f7c1feffffff4584d148851e66a9008040f6c701'],
  ['nop dword [rax+rax]; nop word cs:[rax+rax+0]; nop; xchg ax, ax', '0f1f04002e660f1f0400906690'],
  ['mov rax, fs:[rsi]; mov gs:[0x110008], rax; add fs:[rdi+4], ecx; mov ebx, gs:[rsi]; inc qword gs:[0x110010]', '64488b0665488904250800110064014f04658b1e6548ff042510001100'],
  ['xor edx, edx; mov ecx, 7; div ecx; cqo; mov r8, -3; idiv r8; xor edx, edx; mov rcx, 0x100000001; div rcx; mov eax, 1000; cdq; mov ebx, 0xfffffff9; idiv ebx; mov ax, 300; mov bl, 7; idiv bl; mov dword [rsi], 13; xor edx, edx; div dword [rsi]; mov word [rsi], 9; xor edx, edx; div word [rsi]', '31d2b907000000f7f1489949c7c0fdffffff49f7f831d248b9010000000100000048f7f1b8e803000099bbf9fffffff7fb66b82c01b307f6fbc7060d00000031d2f73666c706090031d266f736'],
  ['mov eax, 1; mov rbx, rax; add rbx, rbx; mov ecx, ebx; shl rcx, 40; or rax, rcx; mov edx, eax', 'b8010000004889c34801db89d948c1e1284809c889c2'],
];

const TRIALS = 24;
/** FS: a small base; GS: an upper-half base (as Linux's per-CPU area), aliasing physical 0x300. */
const FS_BASE = 0x200;
const GS_BASE = -0x80000000 + 0x300; // 0xFFFFFFFF_80000300
const WINDOW = 0x400;
const STACK_WINDOW = 0x100;

/** A small seeded generator (mulberry32), so that a failure reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const interp = LongModeHarness.flat64();
const jit = LongModeHarness.flat64({ jit: true });
/** Instructions the JIT's blocks retired (the engine's runBlock results, summed). */
const counts = countRunBlock(jit.cpu.blockEngine!);

interface Outcome {
  result: Run64Result;
  retired: number;
  data: string;
  stack: string;
}

function runOn(h: LongModeHarness, code: Uint8Array, regs: Partial<Record<Reg64Name, bigint>>, rflags: number, data: Uint8Array): Outcome {
  const before = h.cpu.retired;
  const result = h.run({
    code,
    regs,
    rflags,
    mem: [{ addr: DATA_ADDR, bytes: data }, { addr: STACK_TOP - STACK_WINDOW, bytes: new Uint8Array(STACK_WINDOW) }],
    setup: (cpu) => {
      cpu.s.segBase[4] = FS_BASE;
      cpu.s.segBase[5] = GS_BASE;
    },
  });
  const hex = (a: number, n: number) => Buffer.from(h.mem.ram.subarray(a, a + n)).toString('hex');
  return { result, retired: h.cpu.retired - before, data: hex(DATA_ADDR, WINDOW), stack: hex(STACK_TOP - STACK_WINDOW, STACK_WINDOW) };
}

function describeOutcome(o: Outcome): Record<string, unknown> {
  const r = o.result;
  return {
    exit: r.exit,
    rip: hex64(r.rip),
    rflags: r.rflags.toString(16),
    regs: Object.fromEntries(REG64_NAMES.map((n) => [n, hex64(r.regs[n])])),
    exception: r.exception && { ...r.exception, errorCode: r.exception.errorCode?.toString(16), rip: hex64(r.exception.rip), rflags: r.exception.rflags.toString(16), rsp: hex64(r.exception.rsp) },
    retired: o.retired,
    data: o.data,
    stack: o.stack,
  };
}

describe('JIT in 64-bit mode matches the interpreter', () => {
  SNIPPETS.forEach(([asm, hex, faults], k) => {
    it(asm, () => {
      const code = Buffer.from(hex, 'hex');
      const rand = random(0x5eed + k);
      let ranTranslated = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const small = trial % 2 === 0;
        const regs: Partial<Record<Reg64Name, bigint>> = {};
        for (const name of REG64_NAMES) {
          if (name === 'rsp') continue;
          regs[name] = small ? BigInt(rand() & 0xff) : (BigInt(rand()) << 32n) | BigInt(rand());
        }
        regs.rsi = BigInt(DATA_ADDR + 0x40 + (rand() & 0x38));
        regs.rdi = BigInt(DATA_ADDR + 0x100 + (rand() & 0x3f));
        const rflags = rand() & 0xcd5; // CF PF AF ZF SF DF OF
        const data = new Uint8Array(WINDOW);
        for (let i = 0; i < WINDOW; i++) data[i] = rand() & 0xff;
        const a = runOn(interp, code, regs, rflags, data);
        counts.translated = 0;
        const b = runOn(jit, code, regs, rflags, data);
        const where = `${asm}, trial ${trial}`;
        expect(describeOutcome(b), where).toEqual(describeOutcome(a));
        if (b.result.exception === undefined) {
          // Everything but the HLT ran as translated code.
          expect(counts.translated, `${where}: instructions run as translated code`).toBe(b.retired - 1);
          ranTranslated++;
        }
      }
      // Not every trial may fault: the snippet must have been seen running as translated code.
      if (faults === undefined) expect(ranTranslated, `${asm}: trials that ran without an exception`).toBeGreaterThan(0);
    });
  });
});
