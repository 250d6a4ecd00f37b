/**
 * The x87 state in CPU snapshots: a save/load round trip keeps every register bit (the raw
 * 80-bit registers by physical number, TOP, the full tag word, the pointers), including a
 * pending unmasked exception; malformed x87 state is rejected before anything changes; a
 * version-1 CPU state (before the x87 existed) loads with the FPU reset.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';
import { SnapshotError } from '../../src/errors.js';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';

/** Fills every FpuState field with pseudo-random bits (xorshift), as a guest never could. */
function scramble(cpu: X86Cpu, seed: number): void {
  let x = seed;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const f = cpu.fpu;
  for (let i = 0; i < 16; i++) f.mant[i] = next();
  for (let i = 0; i < 8; i++) f.exp[i] = next() & 0xffff;
  f.fcw = next() & 0xffff;
  f.fsw = next() & 0xc7ff;
  f.top = next() & 7;
  f.ftw = next() & 0xffff;
  f.fop = next() & 0x7ff;
  f.fip = next();
  f.fcs = next() & 0xffff;
  f.fdp = next();
  f.fds = next() & 0xffff;
}

function fpuFields(cpu: X86Cpu) {
  const f = cpu.fpu;
  return { mant: Array.from(f.mant), exp: Array.from(f.exp), fcw: f.fcw, fsw: f.fsw, top: f.top, ftw: f.ftw, fop: f.fop, fip: f.fip, fcs: f.fcs, fdp: f.fdp, fds: f.fds };
}

describe('x87 state in CPU snapshots', () => {
  it('a save/load round trip through JSON keeps every bit of the register file', () => {
    const a = CpuHarness.flat32();
    const b = CpuHarness.flat32();
    for (const seed of [1, 0xdeadbeef, 12345]) {
      scramble(a.cpu, seed);
      const saved = JSON.parse(JSON.stringify(a.cpu.saveState())) as unknown;
      b.cpu.loadState(saved, a.cpu.stateVersion);
      expect(fpuFields(b.cpu)).toEqual(fpuFields(a.cpu));
    }
  });

  it('a restored CPU continues an x87 computation with a pending exception identically', () => {
    // fninit; fldcw [esi] (ZE unmasked); fld tword [esi+0x10] (a denormal); fldpi; fldz; fdivp st1 → ZE pending
    const code = [0xdb, 0xe3, 0xd9, 0x2e, 0xdb, 0x6e, 0x10, 0xd9, 0xeb, 0xd9, 0xee, 0xde, 0xf9];
    const den = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const a = CpuHarness.flat32();
    const ra = a.run({ code, regs: { esi: DATA_ADDR }, mem: [{ addr: DATA_ADDR, bytes: [0x7b, 0x03] }, { addr: DATA_ADDR + 0x10, bytes: den }] });
    expect(ra.exception).toBeUndefined();
    const saved = JSON.parse(JSON.stringify(a.cpu.saveState())) as unknown;
    const b = CpuHarness.flat32();
    b.cpu.loadState(saved, a.cpu.stateVersion);
    expect(fpuFields(b.cpu)).toEqual(fpuFields(a.cpu));
    expect(b.cpu.fpu.statusWord() & 0x80).toBe(0x80); // ES survived
    expect(b.cpu.saveState()).toEqual(a.cpu.saveState());
  });

  it('rejects malformed x87 state with a SnapshotError and changes nothing', () => {
    const h = CpuHarness.flat32();
    scramble(h.cpu, 77);
    const good = h.cpu.saveState();
    const before = fpuFields(h.cpu);
    const bad = [
      { ...good.fpu, top: 8 },
      { ...good.fpu, mant: good.fpu.mant.slice(0, 15) },
      { ...good.fpu, exp: [...good.fpu.exp.slice(0, 7), 0x10000] },
      { ...good.fpu, fsw: 0x3800 }, // TOP belongs in `top`
      { ...good.fpu, fop: 0x800 },
      { ...good.fpu, fip: -1 },
      'nonsense',
    ];
    for (const fpu of bad) {
      expect(() => h.cpu.loadState({ ...good, fpu, eip: 0x1234 }, h.cpu.stateVersion)).toThrow(SnapshotError);
      expect(fpuFields(h.cpu)).toEqual(before);
      expect(h.cpu.s.eip).toBe(good.eip);
    }
    const { fpu: _omitted, ...noFpu } = good;
    expect(() => h.cpu.loadState(noFpu, h.cpu.stateVersion)).toThrow(SnapshotError);
  });

  it('a version-1 CPU state (no x87 yet) loads with the FPU in its power-on state', () => {
    const h = CpuHarness.flat32();
    scramble(h.cpu, 99);
    const { fpu: _dropped, ...v1 } = h.cpu.saveState();
    h.cpu.loadState(v1, 1);
    expect(h.cpu.fpu.fcw).toBe(0x0040);
    expect(h.cpu.fpu.ftw).toBe(0x5555);
    expect(Array.from(h.cpu.fpu.mant).every((x) => x === 0)).toBe(true);
  });
});
