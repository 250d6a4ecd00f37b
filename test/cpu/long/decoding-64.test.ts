/**
 * 64-bit mode decoding (SDM Vol. 2A 2.2.1): REX prefixes and the registers they reach,
 * 64-bit operand and address sizes, zero-extension of 32-bit results, the default 64-bit
 * operand size of stack and near-branch instructions, and the opcodes that are invalid in
 * 64-bit mode. Bytes were assembled with nasm (`bits 64`); expected values follow the SDM
 * instruction pages.
 */
import { describe, expect, it } from 'vitest';
import { DATA_ADDR, LongModeHarness, STACK_TOP, le64, type Reg64Name } from '../../helpers/cpu-harness64.js';

const h = LongModeHarness.flat64();
const CF = 1, ZF = 0x40, SF = 0x80, OF = 0x800;

function run(code: number[], regs: Partial<Record<Reg64Name, bigint>> = {}, mem: { addr: number; bytes: number[] }[] = [], rflags = 0) {
  const r = h.run({ code, regs, mem, rflags });
  expect(r.exception, `unexpected exception ${JSON.stringify(r.exception, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`).toBeUndefined();
  expect(r.exit).toBe('halt');
  return r;
}

describe('REX prefixes', () => {
  it('MOV r64, imm64 (REX.W B8+r) and MOV r/m64, imm32 sign-extended (REX.W+B C7)', () => {
    // mov rax, 0x123456789abcdef0; mov r15, -2
    const r = run([0x48, 0xb8, 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12, 0x49, 0xc7, 0xc7, 0xfe, 0xff, 0xff, 0xff]);
    expect(r.regs.rax).toBe(0x123456789abcdef0n);
    expect(r.regs.r15).toBe(0xfffffffffffffffen);
  });

  it('REX.R and REX.B extend ModRM.reg and ModRM.rm to R8-R15 (add r8, r9)', () => {
    const r = run([0x4d, 0x01, 0xc8], { r8: 0xffffffff00000001n, r9: 0x00000001ffffffffn });
    expect(r.regs.r8).toBe(0x0000000100000000n); // the carry out of bit 63 is lost
    expect(r.rflags & (CF | ZF)).toBe(CF);
  });

  it('with any REX prefix byte registers 4-7 are SPL BPL SIL DIL, without one AH CH DH BH', () => {
    // mov al, spl; mov bl, ah; mov r9b, dil; mov cl, bh
    const r = run([0x40, 0x88, 0xe0, 0x88, 0xe3, 0x41, 0x88, 0xf9, 0x88, 0xf9],
      { rsp: BigInt(STACK_TOP) + 0x44n, rax: 0x1100n, rdi: 0x77n, r9: 0xffffn, rbx: 0x5500n, rcx: 0n });
    expect(r.regs.rax).toBe(0x1144n); // AL = SPL
    expect(r.regs.rbx).toBe(0x5511n); // BL = AH
    expect(r.regs.r9).toBe(0xff77n); // R9B = DIL
    expect(r.regs.rcx).toBe(0x55n); // CL = BH
  });

  it('32-bit results zero-extend into the upper half; 16- and 8-bit results keep it', () => {
    // mov eax, ebx; mov cx, dx; mov sil, dl
    const r = run([0x89, 0xd8, 0x66, 0x89, 0xd1, 0x40, 0x88, 0xd6],
      { rax: 0xaaaaaaaaaaaaaaaan, rbx: 0x1111111122222222n, rcx: 0xccccccccccccccccn, rdx: 0x3344n, rsi: 0xeeeeeeeeeeeeeeeen });
    expect(r.regs.rax).toBe(0x22222222n);
    expect(r.regs.rcx).toBe(0xcccccccccccc3344n);
    expect(r.regs.rsi).toBe(0xeeeeeeeeeeeeee44n);
  });

  it('a REX prefix followed by a legacy prefix is ignored (48 66 01 D8 is add ax, bx)', () => {
    const r = run([0x48, 0x66, 0x01, 0xd8], { rax: 0x1111111111118000n, rbx: 0x2222222222228000n });
    expect(r.regs.rax).toBe(0x1111111111110000n);
    expect(r.rflags & (CF | ZF | OF)).toBe(CF | ZF | OF);
  });

  it('40-4F are REX prefixes: 48 FF C0 is inc rax, 49 FF CA dec r10', () => {
    const r = run([0x48, 0xff, 0xc0, 0x49, 0xff, 0xca], { rax: 0x00000000ffffffffn, r10: 0n });
    expect(r.regs.rax).toBe(0x100000000n);
    expect(r.regs.r10).toBe(0xffffffffffffffffn);
    expect(r.rflags & (SF | ZF)).toBe(SF);
  });

  it('MOVSXD sign-extends a doubleword to 64 bits (register and memory)', () => {
    const r = run([0x48, 0x63, 0xc3, 0x48, 0x63, 0x0e], { rbx: 0xffffffff80000001n, rsi: BigInt(DATA_ADDR) },
      [{ addr: DATA_ADDR, bytes: [0x00, 0x00, 0x00, 0x7f] }]);
    expect(r.regs.rax).toBe(0xffffffff80000001n);
    expect(r.regs.rcx).toBe(0x7f000000n);
  });

  it('SIB with R12 as base and index, R13 as base (mod 01), REX.X', () => {
    // mov rax, [r12]; mov rbx, [r13+0]; mov rcx, [rsi+r12*8]; mov rdx, [rsi+r13*2+8]
    const d = DATA_ADDR;
    const r = run([0x49, 0x8b, 0x04, 0x24, 0x49, 0x8b, 0x5d, 0x00, 0x4a, 0x8b, 0x0c, 0xe6, 0x4a, 0x8b, 0x54, 0x6e, 0x08],
      { r12: 0x18n, r13: 0x10n, rsi: BigInt(d) },
      [
        { addr: 0x10, bytes: [...le64(0xaaaan), ...le64(0xbbbbn)] },
        { addr: d, bytes: [...le64(0x0101n), ...le64(0x0202n), ...le64(0x0303n), ...le64(0x0404n), ...le64(0x0505n), ...le64(0x0606n)] },
        { addr: d + 0xc0, bytes: le64(0x0c0cn) },
      ]);
    expect(r.regs.rax).toBe(0xbbbbn); // [r12] = [0x18]
    expect(r.regs.rbx).toBe(0xaaaan); // [r13 + 0] = [0x10]
    expect(r.regs.rcx).toBe(0x0c0cn); // [rsi + r12*8] = [d + 0xc0]
    expect(r.regs.rdx).toBe(0x0606n); // [rsi + r13*2 + 8] = [d + 0x28]
  });
});

describe('64-bit default operand size', () => {
  it('PUSH/POP are 64-bit; PUSH imm8 sign-extends; 66h gives 16-bit pushes', () => {
    // push rax; push -1; push word 0x1234; pop cx; pop rdx; pop r11
    const r = run([0x50, 0x6a, 0xff, 0x66, 0x68, 0x34, 0x12, 0x66, 0x59, 0x5a, 0x41, 0x5b],
      { rax: 0x8877665544332211n, rcx: 0xffffffffffffffffn });
    expect(r.regs.rcx).toBe(0xffffffffffff1234n);
    expect(r.regs.rdx).toBe(0xffffffffffffffffn);
    expect(r.regs.r11).toBe(0x8877665544332211n);
    expect(r.regs.rsp).toBe(BigInt(STACK_TOP));
  });

  it('CALL pushes the 64-bit return address, RET pops it', () => {
    // call f; jmp e; f: mov rax, rsp; ret; e:
    const r = run([0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0x04, 0x48, 0x89, 0xe0, 0xc3]);
    expect(r.regs.rax).toBe(BigInt(STACK_TOP - 8));
    expect(r.read64(STACK_TOP - 8)).toBe(0x100005n);
    expect(r.regs.rsp).toBe(BigInt(STACK_TOP));
  });

  it('XCHG r8, rax (49 90) is an exchange, 90 alone a NOP', () => {
    const r = run([0x49, 0x90, 0x90], { rax: 1n, r8: 0x100000000n });
    expect(r.regs.rax).toBe(0x100000000n);
    expect(r.regs.r8).toBe(1n);
  });

  it('CDQE and CQO', () => {
    const r = run([0x48, 0x98, 0x48, 0x99], { rax: 0x1234567880000000n, rdx: 5n });
    expect(r.regs.rax).toBe(0xffffffff80000000n);
    expect(r.regs.rdx).toBe(0xffffffffffffffffn);
  });

  it('LOOP counts with RCX; JRCXZ tests all 64 bits', () => {
    const r = run([0x48, 0xff, 0xc0, 0xe2, 0xfb], { rcx: 3n, rax: 0xffffffffn });
    expect(r.regs.rcx).toBe(0n);
    expect(r.regs.rax).toBe(0x100000002n);
    // jrcxz +5; mov eax, 1
    const j = run([0xe3, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00], { rcx: 0x100000000n });
    expect(j.regs.rax).toBe(1n);
    const k = run([0xe3, 0x05, 0xb8, 0x01, 0x00, 0x00, 0x00], { rcx: 0n });
    expect(k.regs.rax).toBe(0n);
  });
});

describe('64-bit addressing', () => {
  it('67h selects 32-bit addressing (result zero-extended); LEA r64 is exact', () => {
    // lea eax, [ebx+ecx*2+0x10]; lea rdx, [rbx+rcx*2-1]
    const r = run([0x67, 0x8d, 0x44, 0x4b, 0x10, 0x48, 0x8d, 0x54, 0x4b, 0xff], { rbx: 0xfffffffffffffff0n, rcx: 0x8000000000000001n });
    expect(r.regs.rax).toBe(0x2n); // (0xfffffff0 + 2*1 + 0x10) mod 2^32
    expect(r.regs.rdx).toBe(0xfffffffffffffff1n); // -16 + 2^64+2 - 1 mod 2^64
  });

  it('MOV moffs takes an 8-byte address', () => {
    const r = run([0x48, 0xa1, 0x08, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa2, 0x10, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00],
      {}, [{ addr: DATA_ADDR + 8, bytes: le64(0xfedcba9876543210n) }]);
    expect(r.regs.rax).toBe(0xfedcba9876543210n);
    expect(r.read64(DATA_ADDR + 0x10) & 0xffn).toBe(0x10n);
  });

  it('REP MOVSQ copies quadwords with RSI/RDI/RCX', () => {
    const src = DATA_ADDR, dst = DATA_ADDR + 0x100;
    const r = run([0xf3, 0x48, 0xa5], { rsi: BigInt(src), rdi: BigInt(dst), rcx: 3n },
      [{ addr: src, bytes: [...le64(1n), ...le64(0x8000000000000000n), ...le64(3n)] }]);
    expect(r.read64(dst + 8)).toBe(0x8000000000000000n);
    expect(r.read64(dst + 16)).toBe(3n);
    expect(r.regs.rcx).toBe(0n);
    expect(r.regs.rdi).toBe(BigInt(dst + 24));
  });
});

describe('64-bit operand size arithmetic', () => {
  it('ADD/SUB/ADC/SBB with memory and sign-extended immediates', () => {
    // add qword [rsi], rbx; sub rbx, [rsi+8]; adc rcx, 0x7fffffff; sbb rdx, -1
    const r = run([0x48, 0x01, 0x1e, 0x48, 0x2b, 0x5e, 0x08, 0x48, 0x81, 0xd1, 0xff, 0xff, 0xff, 0x7f, 0x48, 0x83, 0xda, 0xff],
      { rsi: BigInt(DATA_ADDR), rbx: 0x1n, rcx: 0xffffffff80000001n, rdx: 5n },
      [{ addr: DATA_ADDR, bytes: [...le64(0xffffffffffffffffn), ...le64(2n)] }]);
    expect(r.read64(DATA_ADDR)).toBe(0n); // carry out of bit 63
    expect(r.regs.rbx).toBe(0xffffffffffffffffn); // 1 - 2, CF = 1
    expect(r.regs.rcx).toBe(1n); // 0xffffffff80000001 + 0x7fffffff + CF(1) wraps to 1, CF = 1
    expect(r.regs.rdx).toBe(5n); // 5 - (-1) - CF(1) = 5
  });

  it('MUL/DIV with RDX:RAX', () => {
    const r = run([0x48, 0xf7, 0xe3, 0x48, 0xf7, 0xf1], { rax: 0xffffffffffffffffn, rbx: 0xffffffffffffffffn, rcx: 0xffffffffffffffffn });
    // product = 2^128 - 2^65 + 1: RDX = 0xfffffffffffffffe, RAX = 1, then divided by RCX
    const n = (0xfffffffffffffffen << 64n) | 1n;
    expect(r.regs.rax).toBe(n / 0xffffffffffffffffn);
    expect(r.regs.rdx).toBe(n % 0xffffffffffffffffn);
    // A quotient above 64 bits is #DE.
    const e = h.run({ code: [0x48, 0xf7, 0xf1], regs: { rdx: 5n, rcx: 5n } });
    expect(e.exception?.vector).toBe(0);
  });

  it('TEST rax, imm32 sign-extends the immediate', () => {
    const r = run([0x48, 0xa9, 0x00, 0x00, 0x00, 0x80], { rax: 0x8000000000000000n });
    expect(r.rflags & (ZF | SF)).toBe(SF);
  });

  it('SETcc/CMOVcc after a 64-bit compare; CMOV r32 zero-extends even when not moving', () => {
    // cmp rax, rbx; cmovg rcx, rdx; cmovl r9d, r10d
    const r = run([0x48, 0x39, 0xd8, 0x48, 0x0f, 0x4f, 0xca, 0x45, 0x0f, 0x4c, 0xca],
      { rax: 0x100000000n, rbx: 0xffffffffn, rcx: 0n, rdx: 0x123456789n, r9: 0xaaaaaaaa55555555n, r10: 7n });
    expect(r.regs.rcx).toBe(0x123456789n);
    expect(r.regs.r9).toBe(0x55555555n);
  });

  it('MOVZX/MOVSX to 64 bits', () => {
    const r = run([0x48, 0x0f, 0xb6, 0x06, 0x48, 0x0f, 0xbf, 0x1e, 0x45, 0x0f, 0xb7, 0xc1],
      { rsi: BigInt(DATA_ADDR), rax: -1n, r8: -1n, r9: 0xffff8001n }, [{ addr: DATA_ADDR, bytes: [0x81, 0x80] }]);
    expect(r.regs.rax).toBe(0x81n);
    expect(r.regs.rbx).toBe(0xffffffffffff8081n);
    expect(r.regs.r8).toBe(0x8001n);
  });

  it('BSWAP r64 and r32 (REX.B)', () => {
    const r = run([0x48, 0x0f, 0xc8, 0x41, 0x0f, 0xcc], { rax: 0x0102030405060708n, r12: 0xffffffff11223344n });
    expect(r.regs.rax).toBe(0x0807060504030201n);
    expect(r.regs.r12).toBe(0x44332211n);
  });

  it('CMPXCHG16B compares RDX:RAX and stores RCX:RBX', () => {
    const m = [...le64(0x1111n), ...le64(0x2222n)];
    const r = run([0xf0, 0x48, 0x0f, 0xc7, 0x0e], { rsi: BigInt(DATA_ADDR), rax: 0x1111n, rdx: 0x2222n, rbx: 0x3333n, rcx: 0x4444n },
      [{ addr: DATA_ADDR, bytes: m }]);
    expect(r.read64(DATA_ADDR)).toBe(0x3333n);
    expect(r.read64(DATA_ADDR + 8)).toBe(0x4444n);
    expect(r.rflags & ZF).toBe(ZF);
  });

  it('CMPXCHG16B on an address that is not 16-byte aligned is #GP(0)', () => {
    const r = h.run({ code: [0xf0, 0x48, 0x0f, 0xc7, 0x0e], regs: { rsi: BigInt(DATA_ADDR + 8) } });
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.errorCode).toBe(0n);
  });
});

describe('opcodes invalid in 64-bit mode raise #UD', () => {
  const cases: [string, number[]][] = [
    ['PUSH ES', [0x06]], ['POP ES', [0x07]], ['PUSH CS', [0x0e]], ['PUSH SS', [0x16]], ['POP SS', [0x17]],
    ['PUSH DS', [0x1e]], ['POP DS', [0x1f]], ['DAA', [0x27]], ['DAS', [0x2f]], ['AAA', [0x37]], ['AAS', [0x3f]],
    ['PUSHA', [0x60]], ['POPA', [0x61]], ['BOUND', [0x62, 0x00]], ['82 /0', [0x82, 0xc0, 0x01]],
    ['CALL ptr16:32', [0x9a, 0, 0, 0, 0, 0x08, 0]], ['LES', [0xc4, 0x00]], ['LDS', [0xc5, 0x00]], ['INTO', [0xce]],
    ['AAM', [0xd4, 0x0a]], ['AAD', [0xd5, 0x0a]], ['SALC', [0xd6]], ['JMP ptr16:32', [0xea, 0, 0, 0, 0, 0x08, 0]],
  ];
  for (const [name, code] of cases) {
    it(name, () => {
      const r = h.run({ code });
      expect(r.exception?.vector).toBe(6);
      expect(r.exception?.rip).toBe(0x100000n);
    });
  }
});
