/**
 * The x87 environment and state images: FNSTENV/FLDENV (14 or 28 bytes) and FNSAVE/FRSTOR
 * (94 or 108 bytes), in the 16- and 32-bit, real- and protected-mode layouts of SDM Vol. 1
 * 8.1.10, Figures 8-9 to 8-12; FNINIT and FLDCW.
 *
 * Reserved halves of the 32-bit layouts are stored as 0xFFFF, as the processors do. In the
 * real-mode layouts the instruction and data pointers are 20/32-bit linear addresses
 * (segment · 16 + offset); loading one back gives offset = linear, selector 0. On load the
 * tag word only says which registers are empty: the others are tagged from their contents,
 * and ES/B are recomputed from the flags and masks (what the host CPUs do).
 */
import type { X86Cpu } from '../cpu.js';
import type { FpuState } from './fpu-state.js';
import { Ext, Fsw } from './float80.js';
import { loadTagWord, phys, readM80, readMem, tagWord, updateSummary, writeM80, writeMem, probeWrite, probeRead } from './fpu-core.js';

/** FCW bits that exist: exception masks, PC, RC, X (bit 12); bit 6 reads as 1 (SDM 8.1.5). */
export function controlWord(v: number): number {
  return (v & 0x1f3f) | 0x40;
}

/** FLDCW: a new control word may unmask (or mask) pending exceptions. */
export function loadControlWord(cpu: X86Cpu, v: number): void {
  cpu.fpu.fcw = controlWord(v);
  updateSummary(cpu);
}

/** FNINIT (SDM FINIT): FCW 037F, FSW 0, all empty, pointers and opcode 0; data registers kept. */
export function fninit(cpu: X86Cpu): void {
  const f = cpu.fpu;
  f.fcw = 0x037f;
  f.fsw = 0;
  f.top = 0;
  f.ftw = 0xffff;
  f.fop = f.fip = f.fcs = f.fdp = f.fds = 0;
  updateSummary(cpu);
}

/** Size in bytes of the environment image at this operand size. */
export function envSize(cpu: X86Cpu): number {
  return cpu.opSize === 32 ? 28 : 14;
}

/** FNSTENV's image at the memory operand (the caller masks exceptions afterwards). */
export function storeEnv(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const real = !cpu.protectedMode;
  probeWrite(cpu, envSize(cpu));
  const tw = tagWord(f);
  const sw = f.statusWord();
  if (cpu.opSize === 32) {
    const w = (disp: number, v: number) => writeMem(cpu, disp, 4, v >>> 0);
    w(0, 0xffff0000 | f.fcw);
    w(4, 0xffff0000 | sw);
    w(8, 0xffff0000 | tw);
    if (real) {
      const ip = (f.fcs * 16 + f.fip) >>> 0;
      const dp = (f.fds * 16 + f.fdp) >>> 0;
      w(12, 0xffff0000 | (ip & 0xffff));
      w(16, ((ip >>> 16) << 12) | (f.fop & 0x7ff));
      w(20, 0xffff0000 | (dp & 0xffff));
      w(24, (dp >>> 16) << 12);
    } else {
      w(12, f.fip);
      w(16, ((f.fop & 0x7ff) << 16) | f.fcs);
      w(20, f.fdp);
      w(24, 0xffff0000 | f.fds);
    }
  } else {
    const w = (disp: number, v: number) => writeMem(cpu, disp, 2, v & 0xffff);
    w(0, f.fcw);
    w(2, sw);
    w(4, tw);
    if (real) {
      const ip = (f.fcs * 16 + f.fip) >>> 0;
      const dp = (f.fds * 16 + f.fdp) >>> 0;
      w(6, ip);
      w(8, (((ip >>> 16) & 0xf) << 12) | (f.fop & 0x7ff));
      w(10, dp);
      w(12, ((dp >>> 16) & 0xf) << 12);
    } else {
      w(6, f.fip);
      w(8, f.fcs);
      w(10, f.fdp);
      w(12, f.fds);
    }
  }
}

/** The environment read from memory, applied only once every byte was read. */
interface Env {
  fcw: number;
  fsw: number;
  ftw: number;
  fip: number;
  fcs: number;
  fop: number;
  fdp: number;
  fds: number;
}

function readEnv(cpu: X86Cpu): Env {
  const real = !cpu.protectedMode;
  probeRead(cpu, envSize(cpu));
  if (cpu.opSize === 32) {
    const r = (disp: number) => readMem(cpu, disp, 4) >>> 0;
    const fcw = r(0) & 0xffff, fsw = r(4) & 0xffff, ftw = r(8) & 0xffff;
    if (real) {
      const w12 = r(12), w16 = r(16), w20 = r(20), w24 = r(24);
      return {
        fcw, fsw, ftw, fcs: 0, fds: 0, fop: w16 & 0x7ff,
        fip: ((w12 & 0xffff) | (((w16 >>> 12) & 0xffff) << 16)) >>> 0,
        fdp: ((w20 & 0xffff) | (((w24 >>> 12) & 0xffff) << 16)) >>> 0,
      };
    }
    const w16 = r(16);
    return { fcw, fsw, ftw, fip: r(12), fcs: w16 & 0xffff, fop: (w16 >>> 16) & 0x7ff, fdp: r(20), fds: r(24) & 0xffff };
  }
  const r = (disp: number) => readMem(cpu, disp, 2);
  const fcw = r(0), fsw = r(2), ftw = r(4);
  if (real) {
    const w8 = r(8);
    return {
      fcw, fsw, ftw, fcs: 0, fds: 0, fop: w8 & 0x7ff,
      fip: r(6) | ((w8 >>> 12) << 16),
      fdp: r(10) | ((r(12) >>> 12) << 16),
    };
  }
  // The 16-bit protected-mode image has no opcode field: FOP is left as it is.
  return { fcw, fsw, ftw, fip: r(6), fcs: r(8), fop: -1, fdp: r(10), fds: r(12) };
}

function applyEnv(cpu: X86Cpu, env: Env): void {
  const f = cpu.fpu;
  f.fcw = controlWord(env.fcw);
  f.fsw = env.fsw & ~Fsw.TOP;
  f.top = (env.fsw >> 11) & 7;
  f.fip = env.fip;
  f.fcs = env.fcs;
  if (env.fop >= 0) f.fop = env.fop;
  f.fdp = env.fdp;
  f.fds = env.fds;
  loadTagWord(f, env.ftw);
  updateSummary(cpu);
}

/** FLDENV. */
export function loadEnv(cpu: X86Cpu): void {
  applyEnv(cpu, readEnv(cpu));
}

/** FNSAVE: environment, then ST(0)..ST(7) as 10-byte values, then FNINIT. */
export function saveState(cpu: X86Cpu): void {
  const f = cpu.fpu;
  const base = envSize(cpu);
  probeWrite(cpu, base + 80);
  storeEnv(cpu);
  for (let i = 0; i < 8; i++) {
    const p = phys(f, i);
    writeM80(cpu, base + 10 * i, f.exp[p]!, f.mant[2 * p + 1]!, f.mant[2 * p]!);
  }
  fninit(cpu);
}

const regs = Array.from({ length: 8 }, () => new Ext());

/** FRSTOR: everything is read before anything changes, so a fault leaves the FPU as it was. */
export function restoreState(cpu: X86Cpu): void {
  const base = envSize(cpu);
  probeRead(cpu, base + 80);
  const env = readEnv(cpu);
  for (let i = 0; i < 8; i++) readM80(cpu, base + 10 * i, regs[i]!);
  const f: FpuState = cpu.fpu;
  const top = (env.fsw >> 11) & 7;
  for (let i = 0; i < 8; i++) {
    const p = (top + i) & 7;
    const v = regs[i]!;
    f.exp[p] = v.se;
    f.mant[2 * p + 1] = v.hi;
    f.mant[2 * p] = v.lo;
  }
  applyEnv(cpu, env);
}
