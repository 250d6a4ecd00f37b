/**
 * Group 15 (0F AE): FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, LFENCE, MFENCE, SFENCE, CLFLUSH.
 *
 * FXSAVE/FXRSTOR use the legacy 512-byte layout of SDM Vol. 1 10.5.1 (Table 10-2), 32-bit
 * format: FCW, FSW, the abridged tag byte (one bit per PHYSICAL register, 1 = not empty), FOP,
 * FIP, FCS, FDP, FDS, MXCSR, MXCSR_MASK, ST0-ST7 (in stack order, 16 bytes each) and XMM0-7,
 * plus XMM8-15 at bytes 288-415 in 64-bit mode (Table 10-3); bytes past the XMM registers are
 * not written. With REX.W (FXSAVE64/FXRSTOR64, Table 10-3 "REX.W = 1") FIP and FDP are 64-bit
 * fields at 8 and 16 and there is no FCS/FDS (the x87 keeps 32-bit pointers: their upper
 * halves are stored as zero). FXRSTOR rebuilds the full tag
 * word from the register contents (10.5.1.1) and faults with #GP(0) on reserved MXCSR bits.
 * Both require a 16-byte aligned operand (#GP(0)), and raise #NM when CR0.TS or CR0.EM is set.
 * They save and restore the SSE state whatever CR4.OSFXSR says (the SDM leaves that to the
 * implementation).
 */
import type { X86Cpu } from '../cpu.js';
import { Vec } from '../exceptions.js';
import { Cr0 } from '../state.js';
import { checkSse, operandAddr, readOperandAt, writeOperandAt } from './sse-access.js';
import { MXCSR_MASK } from './sse-state.js';

export function group15(cpu: X86Cpu, pfx: number): void {
  cpu.decodeModrm();
  const r = cpu.modOp;
  if (cpu.modrm >= 0xc0) {
    // LFENCE (5), MFENCE (6), SFENCE (7): ordering is trivially kept by an interpreter.
    if (pfx === 0 && r >= 5) return;
    cpu.unimplemented(`0f ae ${cpu.modrm.toString(16)}`);
  }
  if (pfx !== 0) cpu.unimplemented(`0f ae /${r} with prefix`);
  switch (r) {
    case 0: fxsave(cpu); return;
    case 1: fxrstor(cpu); return;
    case 2: { // LDMXCSR
      checkSse(cpu);
      const v = cpu.read32(cpu.eaSeg, cpu.eaOff) >>> 0;
      if (v & ~MXCSR_MASK) cpu.gp(0);
      cpu.sse.mxcsr = v;
      return;
    }
    case 3: // STMXCSR
      checkSse(cpu);
      cpu.write32(cpu.eaSeg, cpu.eaOff, cpu.sse.mxcsr);
      return;
    case 7: // CLFLUSH: no caches; the address is checked like a byte read (segment faults apply)
      cpu.segAddr(cpu.eaSeg, cpu.eaOff, 1, false);
      return;
    default:
      cpu.unimplemented(`0f ae /${r}`);
  }
}

function checkFx(cpu: X86Cpu): void {
  if (cpu.s.cr0 & (Cr0.TS | Cr0.EM)) cpu.raise(Vec.NM);
}

/** The abridged tag byte: bit i set when physical register Ri is not empty. */
export function abridgedTag(ftw: number): number {
  let t = 0;
  for (let i = 0; i < 8; i++) if (((ftw >> (2 * i)) & 3) !== 3) t |= 1 << i;
  return t;
}

/** The full tag of physical register `i` from its contents (SDM Vol. 1 Table 10-3 / 8.1.7). */
function tagOf(cpu: X86Cpu, i: number): number {
  const f = cpu.fpu;
  const e = f.exp[i]! & 0x7fff;
  const lo = f.mant[2 * i]!, hi = f.mant[2 * i + 1]!;
  if (e === 0x7fff) return 2;
  if (e === 0) return lo === 0 && hi === 0 ? 1 : 2;
  return hi & 0x80000000 ? 0 : 2;
}

function fxsave(cpu: X86Cpu): void {
  checkFx(cpu);
  const lin = operandAddr(cpu, 512, true, true);
  const f = cpu.fpu;
  const w = (off: number, size: 1 | 2 | 4, v: number) => writeOperandAt(cpu, lin, off, size, v);
  w(0, 2, f.fcw);
  w(2, 2, f.statusWord());
  w(4, 1, abridgedTag(f.ftw));
  w(5, 1, 0);
  w(6, 2, f.fop & 0x7ff);
  const wide = cpu.opSize === 64;
  w(8, 4, f.fip);
  w(12, 2, wide ? 0 : f.fcs);
  w(14, 2, 0);
  w(16, 4, f.fdp);
  w(20, 2, wide ? 0 : f.fds);
  w(22, 2, 0);
  w(24, 4, cpu.sse.mxcsr);
  w(28, 4, MXCSR_MASK);
  for (let i = 0; i < 8; i++) {
    const p = (f.top + i) & 7;
    const off = 32 + 16 * i;
    w(off, 4, f.mant[2 * p]!);
    w(off + 4, 4, f.mant[2 * p + 1]!);
    w(off + 8, 2, f.exp[p]!);
    w(off + 10, 2, 0);
    w(off + 12, 4, 0);
  }
  const x = cpu.sse.u32;
  for (let i = 0; i < xmmCount(cpu) * 4; i++) w(160 + 4 * i, 4, x[i]!);
}

/** XMM registers in the FXSAVE image: XMM0-15 in 64-bit mode, XMM0-7 otherwise (SDM Vol. 1 10.5.1). */
function xmmCount(cpu: X86Cpu): number {
  return cpu.mode64 ? 16 : 8;
}

function fxrstor(cpu: X86Cpu): void {
  checkFx(cpu);
  const lin = operandAddr(cpu, 512, false, true);
  const rd = (off: number, size: 1 | 2 | 4) => readOperandAt(cpu, lin, off, size);
  const mxcsr = rd(24, 4) >>> 0;
  if (mxcsr & ~MXCSR_MASK) cpu.gp(0);
  // Everything is read before anything changes, so a fault leaves the state intact.
  const fcw = rd(0, 2), fsw = rd(2, 2), tags = rd(4, 1), fop = rd(6, 2) & 0x7ff;
  const wide = cpu.opSize === 64;
  const fip = rd(8, 4), fcs = wide ? 0 : rd(12, 2), fdp = rd(16, 4), fds = wide ? 0 : rd(20, 2);
  const regs: number[] = [];
  for (let i = 0; i < 8; i++) regs.push(rd(32 + 16 * i, 4), rd(36 + 16 * i, 4), rd(40 + 16 * i, 2));
  const xmm: number[] = [];
  for (let i = 0; i < xmmCount(cpu) * 4; i++) xmm.push(rd(160 + 4 * i, 4));
  const f = cpu.fpu;
  f.fcw = fcw;
  f.fsw = fsw & ~0x3800;
  f.top = (fsw >> 11) & 7;
  f.fop = fop;
  f.fip = fip;
  f.fcs = fcs;
  f.fdp = fdp;
  f.fds = fds;
  for (let i = 0; i < 8; i++) {
    const p = (f.top + i) & 7;
    f.mant[2 * p] = regs[3 * i]!;
    f.mant[2 * p + 1] = regs[3 * i + 1]!;
    f.exp[p] = regs[3 * i + 2]!;
  }
  let ftw = 0;
  for (let i = 0; i < 8; i++) ftw |= (tags & (1 << i) ? tagOf(cpu, i) : 3) << (2 * i);
  f.ftw = ftw;
  cpu.sse.u32.set(xmm);
  cpu.sse.mxcsr = mxcsr;
}
