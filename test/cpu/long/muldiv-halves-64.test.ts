/**
 * The 64-bit multiplies and the small-operand DIV fast path work on 32-bit halves and doubles
 * (alu64.ts); this checks them against exact BigInt arithmetic on edge values and a seeded
 * random sample: RDX:RAX, CF/OF (SDM Vol. 2A MUL, IMUL, DIV).
 */
import { describe, expect, it } from 'vitest';
import { divAcc64, imulAcc64, imulTrunc64, mulAcc64 } from '../../../src/cpu/x86/alu64.js';
import { LongModeHarness, u64 } from '../../helpers/cpu-harness64.js';

const cpu = LongModeHarness.flat64().cpu;
const M64 = (1n << 64n) - 1n;

function halves(v: bigint): [number, number] {
  const u = BigInt.asUintN(64, v);
  return [Number(u & 0xffffffffn), Number(BigInt.asIntN(32, u >> 32n))];
}
function setRax(v: bigint): void {
  const [lo, hi] = halves(v);
  cpu.setReg64(0, lo, hi);
}
const rax = () => u64(cpu.s.gpr[0]!, cpu.s.gprHi[0]!);
const rdx = () => u64(cpu.s.gpr[2]!, cpu.s.gprHi[2]!);
const cfOf = () => cpu.getEflags() & 0x801;

/** xorshift64*: a reproducible sample that reaches every bit pattern class. */
function* sample(n: number): Generator<bigint> {
  let x = 0x9e3779b97f4a7c15n;
  const edges = [0n, 1n, 2n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn,
    0x8000000000000000n, M64, M64 - 1n, 0xffffffff00000000n, 0x00000000ffff0000n, 0x0001000000000001n];
  yield* edges;
  for (let i = 0; i < n; i++) {
    x ^= (x << 13n) & M64;
    x ^= x >> 7n;
    x ^= (x << 17n) & M64;
    // Vary the magnitude: keep 1..64 low bits.
    yield x & ((1n << BigInt(1 + (i % 64))) - 1n);
  }
}

const values = [...sample(400)];

describe('64 x 64 -> 128-bit multiplies on halves', () => {
  it('MUL r/m64 gives the exact unsigned product in RDX:RAX, CF = OF = (RDX != 0)', () => {
    for (let i = 0; i < values.length; i++) {
      const a = values[i]!, b = values[(i * 7 + 3) % values.length]!;
      setRax(a);
      const [lo, hi] = halves(b);
      mulAcc64(cpu, lo >>> 0, hi);
      const p = a * b;
      expect(rax()).toBe(p & M64);
      expect(rdx()).toBe(p >> 64n);
      expect(cfOf()).toBe(p >> 64n ? 0x801 : 0);
    }
  });

  it('IMUL r/m64 and IMUL r64, r/m64 give the exact signed product, CF = OF = (it does not fit 64 bits)', () => {
    for (let i = 0; i < values.length; i++) {
      const a = BigInt.asIntN(64, values[i]!), b = BigInt.asIntN(64, values[(i * 13 + 5) % values.length]!);
      const p = a * b;
      const fits = BigInt.asIntN(64, p) === p;
      setRax(a);
      const [lo, hi] = halves(b);
      imulAcc64(cpu, lo >>> 0, hi);
      expect(rax()).toBe(BigInt.asUintN(64, p));
      expect(rdx()).toBe(BigInt.asUintN(64, p >> 64n));
      expect(cfOf()).toBe(fits ? 0 : 0x801);
      const [alo, ahi] = halves(a);
      const r = imulTrunc64(cpu, alo >>> 0, ahi, lo >>> 0, hi);
      expect(u64(r, cpu.hi)).toBe(BigInt.asUintN(64, p));
      expect(cfOf()).toBe(fits ? 0 : 0x801);
    }
  });
});

describe('DIV r/m64 with RDX = 0', () => {
  it('the fast path for RAX < 2^52 and a 32-bit divisor agrees with exact division, and the slow path beyond', () => {
    const dividends = [...values, (1n << 52n) - 1n, (1n << 52n), (1n << 53n) + 1n, M64];
    const divisors = [1n, 2n, 3n, 7n, 10n, 1000000007n, 0xffffffffn, 0x100000000n, 0x123456789n];
    for (const n of dividends) {
      for (const d of divisors) {
        setRax(n);
        cpu.setReg64(2, 0, 0);
        const [lo, hi] = halves(d);
        divAcc64(cpu, lo >>> 0, hi);
        expect(rax()).toBe(n / d);
        expect(rdx()).toBe(n % d);
      }
    }
  });
});
