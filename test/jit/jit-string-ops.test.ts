/**
 * String instructions inside translated blocks (jit/translate-strings.ts) leave the state,
 * memory and instruction count the interpreter leaves: a REP longer than one chunk (the
 * instruction restarts and the block ends there), LODSB/STOSB loops that run as one loop
 * block, REPE CMPSB stopping early, a fault in the middle of a REP MOVS, and a REP STOS that
 * overwrites the block's own code.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';
import { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const movEcx = (v: number) => [0xb9, ...le32(v)];
const movEsi = (v: number) => [0xbe, ...le32(v)];
const movEdi = (v: number) => [0xbf, ...le32(v)];

/** Runs `code` on the interpreter and on the JIT with the same data; returns both. */
function both(code: number[], data: number[] = [], dataLength = 0x3000) {
  const run = (jit: boolean) => {
    const h = CpuHarness.flat32({ jit });
    h.fill(DATA_ADDR, dataLength, 0);
    const r = h.run({ code, mem: [{ addr: DATA_ADDR, bytes: data }] });
    return { r, h, mem: r.read(DATA_ADDR, dataLength), retired: h.cpu.retired };
  };
  const interp = run(false);
  const jit = run(true);
  return { interp, jit };
}

function expectSame(x: ReturnType<typeof both>): void {
  const { interp, jit } = x;
  expect(jit.r.exit).toBe(interp.r.exit);
  expect(jit.r.exception).toEqual(interp.r.exception);
  expect(jit.r.regs).toEqual(interp.r.regs);
  expect(jit.r.eflags).toBe(interp.r.eflags);
  expect(jit.r.eip).toBe(interp.r.eip);
  expect(jit.retired).toBe(interp.retired);
  expect(Buffer.from(jit.mem).equals(Buffer.from(interp.mem))).toBe(true);
}

const pattern = Array.from({ length: 0x1800 }, (_, i) => (i * 37 + 11) & 0xff);

describe('JIT: string instructions in translated blocks', () => {
  it('REP MOVSB over more than one chunk restarts and ends the block like the interpreter', () => {
    // mov esi, DATA ; mov edi, DATA+0x1800 ; mov ecx, 0x1400 ; rep movsb ; mov eax, 7
    const code = [...movEsi(DATA_ADDR), ...movEdi(DATA_ADDR + 0x1800), ...movEcx(0x1400), 0xf3, 0xa4, 0xb8, ...le32(7)];
    const x = both(code, pattern);
    expectSame(x);
    expect(x.jit.r.regs.ecx).toBe(0);
    expect(x.jit.r.regs.eax).toBe(7);
    expect((x.jit.h.cpu.blockEngine as JitEngine).stats.translated).toBeGreaterThan(0);
  });

  it('a LODSB / STOSB copy loop with a byte transform runs as translated code', () => {
    // mov esi, DATA ; mov edi, DATA+0x1000 ; mov ecx, 300
    // L: lodsb ; xor al, 0x5a ; stosb ; dec ecx ; jnz L
    const code = [...movEsi(DATA_ADDR), ...movEdi(DATA_ADDR + 0x1000), ...movEcx(300), 0xac, 0x34, 0x5a, 0xaa, 0x49, 0x75, 0x100 - 6];
    expectSame(both(code, pattern));
  });

  it('STD then 16-bit MOVSW and SCASB walk down, with operand-size and segment prefixes', () => {
    // std ; mov esi, DATA+0x100 ; mov edi, DATA+0x200 ; mov ecx, 40
    // L: 66 movsw ; 3e lodsb ; scasb ; dec ecx ; jnz L ; cld
    const code = [0xfd, ...movEsi(DATA_ADDR + 0x100), ...movEdi(DATA_ADDR + 0x200), ...movEcx(40), 0x66, 0xa5, 0x3e, 0xac, 0xae, 0x49, 0x75, 0x100 - 7, 0xfc];
    expectSame(both(code, pattern));
  });

  it('REPE CMPSB stops at the first difference; REPNE SCASB finds a byte; the flags they leave feed a Jcc', () => {
    const data = [...pattern.slice(0, 0x400)];
    for (let i = 0; i < 0x100; i++) data[0x200 + i] = data[i]!;
    data[0x200 + 77] ^= 1; // the copy differs at byte 77
    // mov esi, DATA ; mov edi, DATA+0x200 ; mov ecx, 0x100 ; repe cmpsb ; setne bl
    // mov edi, DATA ; mov al, [DATA+0x50] ; mov ecx, 0x400 ; repne scasb ; jne +2 ; inc edx ; mov ebp, ecx
    const code = [
      ...movEsi(DATA_ADDR), ...movEdi(DATA_ADDR + 0x200), ...movEcx(0x100), 0xf3, 0xa6, 0x0f, 0x95, 0xc3,
      ...movEdi(DATA_ADDR), 0xa0, ...le32(DATA_ADDR + 0x50), ...movEcx(0x400), 0xf2, 0xae, 0x75, 0x01, 0x42, 0x89, 0xcd,
    ];
    const x = both(code, data);
    expectSame(x);
    expect(x.jit.r.regs.ebx & 0xff).toBe(1);
    expect(x.jit.r.regs.edx).toBe(1);
  });

  it('a fault in the middle of a REP MOVSD leaves ECX, ESI and EDI where the interpreter leaves them', () => {
    // mov esi, DATA ; mov edi, 0xff0 ; mov ecx, 64 ; rep movsd: ES limit 0xfff, so the fifth
    // element is past the limit (#GP) after four were copied.
    const code = [...movEsi(DATA_ADDR), ...movEdi(0xff0), ...movEcx(64), 0xf3, 0xa5, 0xb8, ...le32(1)];
    const run = (jit: boolean) => {
      const h = CpuHarness.flat32({ jit });
      const r = h.run({
        code,
        mem: [{ addr: DATA_ADDR, bytes: pattern.slice(0, 256) }],
        setup: (cpu) => {
          cpu.s.segLimit[0] = 0xfff;
        },
      });
      return { r, retired: h.cpu.retired };
    };
    const a = run(false);
    const b = run(true);
    expect(a.r.exception?.vector).toBe(13);
    expect(b.r.exception).toEqual(a.r.exception);
    expect(b.r.regs).toEqual(a.r.regs);
    expect(b.retired).toBe(a.retired);
  });

  it('a REP STOSB that overwrites the rest of its own block runs the new bytes', () => {
    // mov edi, CODE+N ; mov ecx, 5 ; mov al, 0x90 ; rep stosb ; mov eax, 0x1234 (overwritten
    // by NOPs: eax stays 0x90) ; hlt
    const prefix = 5 + 5 + 2 + 2;
    const code = [...movEdi(CODE_ADDR + prefix), ...movEcx(5), 0xb0, 0x90, 0xf3, 0xaa, 0xb8, ...le32(0x1234)];
    const x = both(code);
    expectSame(x);
    expect(x.jit.r.regs.eax).toBe(0x90);
  });
});
