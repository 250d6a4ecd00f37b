/**
 * MMX, SSE and SSE2 in the two-byte opcode map (SDM Vol. 2D Table A-3): the 0F 10-17, 28-2F,
 * 50-7F, AE, C2-C6 and D0-FF rows. A mandatory prefix selects the instruction: none (PS /
 * MMX forms), 66 (PD / XMM integer forms), F3 (SS) or F2 (SD); F2/F3 take precedence over 66,
 * and of F2/F3 the last one counts (cpu.repPrefix).
 *
 * Instructions that touch only MMX registers follow the MMX rules (CR0.EM → #UD, CR0.TS →
 * #NM, x87 → MMX transition, writes set the exponent field to all ones); everything that
 * touches an XMM register or MXCSR follows the SSE rules (sse-access.ts). 128-bit memory
 * operands of legacy SSE instructions must be 16-byte aligned except for MOVUPS, MOVUPD,
 * MOVDQU and MASKMOVDQU.
 *
 * Not implemented (#UD through cpu.unimplemented): SSE3 and later (MOVDDUP, HADDPS, LDDQU...).
 * REX: xmmIndex (sse-access.ts) applies REX.R/REX.B for XMM8-15; REX.W (operand size 64)
 * widens the general-register operand of MOVD/MOVQ r/m64, MOVNTI m64, CVTSI2SS/SD r/m64 and
 * CVT(T)SS2SI/SD2SI r64 (SDM Vol. 2D Table A-3 with the "REX.W" forms of those pages).
 */
import type { X86Cpu } from '../cpu.js';
import { Vec } from '../exceptions.js';
import { group15 } from './fxsave.js';
import { byteShift, packedInt, shift } from './packed-int.js';
import {
  beginFp, checkMmx, checkSse, commitFp, enterMmx, loadMem, loadMm, loadMmRm, loadXmm, loadXmmRm, mmIndex, rmIsReg,
  storeMem, storeMm, storeXmm, xmmIndex,
} from './sse-access.js';
import { cvt2a, cvt2c2d, cvt5a, cvt5b, cvtE6 } from './sse-convert.js';
import { comisD, comisS, compareD, compareS, FpOp, laneD, laneS } from './sse-fp.js';
import { approxS } from './sse-approx.js';

/** Mandatory-prefix classes. */
const enum P {
  None = 0, P66 = 1, F3 = 2, F2 = 3,
}

/** Executes 0F `op` if it is an MMX/SSE/SSE2 instruction; returns false otherwise. */
export function execSse(cpu: X86Cpu, op: number): boolean {
  const pfx = cpu.repPrefix === 0xf3 ? P.F3 : cpu.repPrefix === 0xf2 ? P.F2 : cpu.prefix66 ? P.P66 : P.None;
  switch (op) {
    case 0x10: case 0x11: movUps(cpu, pfx, op === 0x11); return true;
    case 0x12: case 0x13: case 0x16: case 0x17: movHalf(cpu, pfx, op); return true;
    case 0x14: case 0x15: unpckFp(cpu, pfx, op === 0x15); return true;
    case 0x28: case 0x29: // MOVAPS / MOVAPD
      if (pfx >= P.F3) return unknown(cpu, op);
      moveWhole(cpu, op === 0x29, true);
      return true;
    case 0x2a: cvt2a(cpu, pfx, cpu.opSize === 64 ? 64 : 32); return true;
    case 0x2b: // MOVNTPS / MOVNTPD m128, xmm
      if (pfx >= P.F3) return unknown(cpu, op);
      checkSse(cpu);
      cpu.decodeModrm();
      if (rmIsReg(cpu)) cpu.raise(Vec.UD);
      moveWholeDecoded(cpu, true, true);
      return true;
    case 0x2c: case 0x2d: cvt2c2d(cpu, pfx, op === 0x2c, cpu.opSize === 64 ? 64 : 32); return true;
    case 0x2e: case 0x2f: comis(cpu, pfx, op === 0x2f); return true;
    case 0x50: movmsk(cpu, pfx); return true;
    case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
      fpArith(cpu, pfx, FP_OPS[op - 0x51]!);
      return true;
    case 0x52: case 0x53: approx(cpu, pfx, op === 0x52); return true;
    case 0x54: case 0x55: case 0x56: case 0x57: logicFp(cpu, pfx, op); return true;
    case 0x5a: cvt5a(cpu, pfx); return true;
    case 0x5b: cvt5b(cpu, pfx); return true;
    case 0x6e: case 0x7e: movd(cpu, pfx, op === 0x7e); return true;
    case 0x6f: case 0x7f: movq128(cpu, pfx, op === 0x7f); return true;
    case 0x70: pshuf(cpu, pfx); return true;
    case 0x71: case 0x72: case 0x73: shiftImm(cpu, pfx, op); return true;
    case 0x77: // EMMS: all tags empty
      if (pfx !== P.None) return unknown(cpu, op);
      checkMmx(cpu);
      cpu.fpu.ftw = 0xffff;
      return true;
    case 0xae: group15(cpu, pfx); return true;
    case 0xc2: cmpFp(cpu, pfx); return true;
    case 0xc3: { // MOVNTI m32, r32; with REX.W MOVNTI m64, r64
      if (pfx !== P.None) return unknown(cpu, op);
      cpu.decodeModrm();
      if (rmIsReg(cpu)) cpu.raise(Vec.UD);
      if (cpu.opSize === 64) cpu.write64(cpu.eaSeg, cpu.eaOff, cpu.s.gpr[cpu.modReg]!, cpu.s.gprHi[cpu.modReg]!);
      else cpu.write32(cpu.eaSeg, cpu.eaOff, cpu.s.gpr[cpu.modReg]!);
      return true;
    }
    case 0xc4: case 0xc5: pinsrPextr(cpu, pfx, op === 0xc5); return true;
    case 0xc6: shufFp(cpu, pfx); return true;
    case 0xd6: movqD6(cpu, pfx); return true;
    case 0xd7: pmovmskb(cpu, pfx); return true;
    case 0xe6: cvtE6(cpu, pfx); return true;
    case 0xe7: movnt(cpu, pfx); return true;
    case 0xf7: maskmov(cpu, pfx); return true;
    default:
      if ((op >= 0x60 && op <= 0x76) || (op >= 0xd1 && op <= 0xfe)) {
        packed(cpu, pfx, op);
        return true;
      }
      return false;
  }
}

function unknown(cpu: X86Cpu, op: number): never {
  return cpu.unimplemented(`opcode ${cpu.repPrefix ? cpu.repPrefix.toString(16) + ' ' : cpu.prefix66 ? '66 ' : ''}0f ${op.toString(16)}`);
}

const FP_OPS: readonly (FpOp | undefined)[] = [
  FpOp.Sqrt, undefined, undefined, undefined, undefined, undefined, undefined, FpOp.Add, FpOp.Mul,
  undefined, undefined, FpOp.Sub, FpOp.Min, FpOp.Div, FpOp.Max,
];

// ---------------------------------------------------------------------------------------------
// Packed integers (MMX with no prefix, XMM with 66)
// ---------------------------------------------------------------------------------------------

function packed(cpu: X86Cpu, pfx: number, op: number): void {
  const st = cpu.sse;
  const a = st.a, b = st.b;
  if (pfx === P.P66) {
    checkSse(cpu);
    cpu.decodeModrm();
    const d = xmmIndex(cpu, false);
    loadXmmRm(cpu, b, true);
    loadXmm(cpu, d, a);
    if (!packedInt(op, a, b, st.r, 16)) unknown(cpu, op);
    storeXmm(cpu, d, a);
    return;
  }
  if (pfx !== P.None || op === 0x6c || op === 0x6d) unknown(cpu, op);
  checkMmx(cpu);
  cpu.decodeModrm();
  loadMmRm(cpu, b);
  enterMmx(cpu);
  const d = mmIndex(cpu, false);
  loadMm(cpu, d, a);
  if (!packedInt(op, a, b, st.r, 8)) unknown(cpu, op);
  storeMm(cpu, d, a.u32[0]!, a.u32[1]!);
}

/** 0F 71/72/73 groups: PSRL/PSRA/PSLL by an immediate; 66 0F 73 /3 PSRLDQ, /7 PSLLDQ. */
function shiftImm(cpu: X86Cpu, pfx: number, op: number): void {
  const st = cpu.sse;
  const a = st.a;
  const xmm = pfx === P.P66;
  if (pfx !== P.None && !xmm) unknown(cpu, op);
  if (xmm) checkSse(cpu);
  else checkMmx(cpu);
  cpu.decodeModrm();
  if (!rmIsReg(cpu)) cpu.raise(Vec.UD);
  const r = cpu.modOp;
  const count = cpu.fetch8();
  const bits = op === 0x71 ? 16 : op === 0x72 ? 32 : 64;
  const n = xmm ? 16 : 8;
  const idx = xmm ? xmmIndex(cpu, true) : mmIndex(cpu, true);
  if (xmm) loadXmm(cpu, idx, a);
  else {
    enterMmx(cpu);
    loadMm(cpu, idx, a);
  }
  if (r === 2) shift(a, n, bits, 'r', count);
  else if (r === 4 && bits !== 64) shift(a, n, bits, 'a', count);
  else if (r === 6) shift(a, n, bits, 'l', count);
  else if (xmm && bits === 64 && (r === 3 || r === 7)) byteShift(a, st.r, r === 7, count);
  else unknown(cpu, op);
  if (xmm) storeXmm(cpu, idx, a);
  else storeMm(cpu, idx, a.u32[0]!, a.u32[1]!);
}

/** 0F 70: PSHUFW mm (none), PSHUFD (66), PSHUFHW (F3), PSHUFLW (F2). */
function pshuf(cpu: X86Cpu, pfx: number): void {
  const st = cpu.sse;
  const a = st.a, b = st.b;
  if (pfx === P.None) {
    checkMmx(cpu);
    cpu.decodeModrm();
    loadMmRm(cpu, b);
    const imm = cpu.fetch8();
    enterMmx(cpu);
    for (let i = 0; i < 4; i++) a.u16[i] = b.u16[(imm >> (2 * i)) & 3]!;
    storeMm(cpu, mmIndex(cpu, false), a.u32[0]!, a.u32[1]!);
    return;
  }
  checkSse(cpu);
  cpu.decodeModrm();
  loadXmmRm(cpu, b, true);
  const imm = cpu.fetch8();
  a.u32.set(b.u32);
  if (pfx === P.P66) for (let i = 0; i < 4; i++) a.u32[i] = b.u32[(imm >> (2 * i)) & 3]!;
  else {
    const base = pfx === P.F3 ? 4 : 0;
    for (let i = 0; i < 4; i++) a.u16[base + i] = b.u16[base + ((imm >> (2 * i)) & 3)]!;
  }
  storeXmm(cpu, xmmIndex(cpu, false), a);
}

/** 0F C4 PINSRW mm/xmm, r32/m16, imm8; 0F C5 PEXTRW r32, mm/xmm, imm8. */
function pinsrPextr(cpu: X86Cpu, pfx: number, extract: boolean): void {
  const st = cpu.sse;
  const a = st.a;
  const xmm = pfx === P.P66;
  if (pfx !== P.None && !xmm) unknown(cpu, extract ? 0xc5 : 0xc4);
  if (xmm) checkSse(cpu);
  else checkMmx(cpu);
  cpu.decodeModrm();
  if (extract) {
    if (!rmIsReg(cpu)) cpu.raise(Vec.UD);
    const imm = cpu.fetch8();
    if (xmm) loadXmm(cpu, xmmIndex(cpu, true), a);
    else {
      enterMmx(cpu);
      loadMm(cpu, mmIndex(cpu, true), a);
    }
    cpu.setReg(32, cpu.modReg, a.u16[imm & (xmm ? 7 : 3)]!);
    return;
  }
  const v = rmIsReg(cpu) ? cpu.s.gpr[cpu.rmReg]! & 0xffff : cpu.read16(cpu.eaSeg, cpu.eaOff);
  const imm = cpu.fetch8();
  if (xmm) {
    const d = xmmIndex(cpu, false);
    loadXmm(cpu, d, a);
    a.u16[imm & 7] = v;
    storeXmm(cpu, d, a);
  } else {
    enterMmx(cpu);
    const d = mmIndex(cpu, false);
    loadMm(cpu, d, a);
    a.u16[imm & 3] = v;
    storeMm(cpu, d, a.u32[0]!, a.u32[1]!);
  }
}

/** 0F D7: PMOVMSKB r32, mm/xmm (register source only). */
function pmovmskb(cpu: X86Cpu, pfx: number): void {
  const a = cpu.sse.a;
  const xmm = pfx === P.P66;
  if (pfx !== P.None && !xmm) unknown(cpu, 0xd7);
  if (xmm) checkSse(cpu);
  else checkMmx(cpu);
  cpu.decodeModrm();
  if (!rmIsReg(cpu)) cpu.raise(Vec.UD);
  if (xmm) loadXmm(cpu, xmmIndex(cpu, true), a);
  else {
    enterMmx(cpu);
    loadMm(cpu, mmIndex(cpu, true), a);
  }
  let m = 0;
  for (let i = 0; i < (xmm ? 16 : 8); i++) m |= (a.u8[i]! >> 7) << i;
  cpu.setReg(32, cpu.modReg, m);
}

/** 0F F7: MASKMOVQ mm, mm / 66 MASKMOVDQU xmm, xmm: byte-masked store to DS:(E)DI. */
function maskmov(cpu: X86Cpu, pfx: number): void {
  const st = cpu.sse;
  const a = st.a, b = st.b;
  const xmm = pfx === P.P66;
  if (pfx !== P.None && !xmm) unknown(cpu, 0xf7);
  if (xmm) checkSse(cpu);
  else checkMmx(cpu);
  cpu.decodeModrm();
  if (!rmIsReg(cpu)) cpu.raise(Vec.UD);
  const n = xmm ? 16 : 8;
  if (xmm) {
    loadXmm(cpu, xmmIndex(cpu, false), a);
    loadXmm(cpu, xmmIndex(cpu, true), b);
  } else {
    enterMmx(cpu);
    loadMm(cpu, mmIndex(cpu, false), a);
    loadMm(cpu, mmIndex(cpu, true), b);
  }
  const seg = cpu.dataSeg;
  const di = cpu.adSize === 32 ? cpu.s.gpr[7]! >>> 0 : cpu.s.gpr[7]! & 0xffff;
  // Check the whole destination first so that a fault writes nothing.
  for (let i = 0; i < n; i++) if (b.u8[i]! & 0x80) cpu.segAddr(seg, (di + i) >>> 0, 1, true);
  for (let i = 0; i < n; i++) if (b.u8[i]! & 0x80) cpu.write8(seg, (di + i) >>> 0, a.u8[i]!);
}

// ---------------------------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------------------------

/** MOVAPS/MOVAPD/MOVDQA/MOVUPS/MOVUPD/MOVDQU and the non-temporal stores: whole 128 bits. */
function moveWhole(cpu: X86Cpu, store: boolean, aligned: boolean): void {
  checkSse(cpu);
  cpu.decodeModrm();
  moveWholeDecoded(cpu, store, aligned);
}

function moveWholeDecoded(cpu: X86Cpu, store: boolean, aligned: boolean): void {
  const a = cpu.sse.a;
  const reg = xmmIndex(cpu, false);
  if (!store) {
    loadXmmRm(cpu, a, aligned);
    storeXmm(cpu, reg, a);
    return;
  }
  loadXmm(cpu, reg, a);
  if (rmIsReg(cpu)) storeXmm(cpu, xmmIndex(cpu, true), a);
  else storeMem(cpu, a, 16, aligned);
}

/** 0F 10/11: MOVUPS, MOVUPD, MOVSS, MOVSD. */
function movUps(cpu: X86Cpu, pfx: number, store: boolean): void {
  if (pfx <= P.P66) {
    moveWhole(cpu, store, false);
    return;
  }
  const a = cpu.sse.a, b = cpu.sse.b;
  const bytes = pfx === P.F3 ? 4 : 8;
  checkSse(cpu);
  cpu.decodeModrm();
  const reg = xmmIndex(cpu, false);
  if (rmIsReg(cpu)) {
    // Register to register: only the low element moves.
    const src = store ? reg : xmmIndex(cpu, true);
    const dst = store ? xmmIndex(cpu, true) : reg;
    loadXmm(cpu, src, b);
    loadXmm(cpu, dst, a);
    for (let i = 0; i < bytes >> 2; i++) a.u32[i] = b.u32[i]!;
    storeXmm(cpu, dst, a);
  } else if (store) {
    loadXmm(cpu, reg, a);
    storeMem(cpu, a, bytes, false);
  } else {
    // A load from memory zeroes the rest of the register.
    a.u32.fill(0);
    loadMem(cpu, a, bytes, false);
    storeXmm(cpu, reg, a);
  }
}

/** 0F 12/13/16/17: MOVLPS/MOVHLPS, MOVLPD, MOVHPS/MOVLHPS, MOVHPD and their stores. */
function movHalf(cpu: X86Cpu, pfx: number, op: number): void {
  if (pfx >= P.F3) unknown(cpu, op); // MOVSLDUP, MOVDDUP, MOVSHDUP are SSE3
  const a = cpu.sse.a, b = cpu.sse.b;
  checkSse(cpu);
  cpu.decodeModrm();
  const reg = xmmIndex(cpu, false);
  const high = op >= 0x16;
  const half = high ? 2 : 0;
  if (op === 0x13 || op === 0x17) { // stores to m64
    if (rmIsReg(cpu)) cpu.raise(Vec.UD);
    loadXmm(cpu, reg, a);
    b.u32[0] = a.u32[half]!;
    b.u32[1] = a.u32[half + 1]!;
    storeMem(cpu, b, 8, false);
    return;
  }
  loadXmm(cpu, reg, a);
  if (rmIsReg(cpu)) {
    if (pfx === P.P66) cpu.raise(Vec.UD);
    // MOVHLPS: low ← source high; MOVLHPS: high ← source low.
    loadXmm(cpu, xmmIndex(cpu, true), b);
    const from = high ? 0 : 2;
    a.u32[half] = b.u32[from]!;
    a.u32[half + 1] = b.u32[from + 1]!;
  } else {
    loadMem(cpu, b, 8, false);
    a.u32[half] = b.u32[0]!;
    a.u32[half + 1] = b.u32[1]!;
  }
  storeXmm(cpu, reg, a);
}

/**
 * 0F 6E / 7E: MOVD to/from MMX or XMM (66); F3 0F 7E is MOVQ xmm, xmm/m64. With REX.W (64-bit
 * mode) 0F 6E / 7E are MOVQ mm/xmm, r/m64 and MOVQ r/m64, mm/xmm.
 */
function movd(cpu: X86Cpu, pfx: number, toRm: boolean): void {
  const a = cpu.sse.a;
  if (toRm && pfx === P.F3) {
    checkSse(cpu);
    cpu.decodeModrm();
    a.u32.fill(0);
    if (rmIsReg(cpu)) {
      loadXmm(cpu, xmmIndex(cpu, true), a);
      a.u32[2] = 0;
      a.u32[3] = 0;
    } else {
      loadMem(cpu, a, 8, false);
    }
    storeXmm(cpu, xmmIndex(cpu, false), a);
    return;
  }
  const xmm = pfx === P.P66;
  if (pfx !== P.None && !xmm) unknown(cpu, toRm ? 0x7e : 0x6e);
  if (xmm) checkSse(cpu);
  else checkMmx(cpu);
  cpu.decodeModrm();
  if (!xmm) enterMmx(cpu);
  const wide = cpu.opSize === 64;
  if (toRm) {
    if (xmm) loadXmm(cpu, xmmIndex(cpu, false), a);
    else loadMm(cpu, mmIndex(cpu, false), a);
    cpu.hi = a.u32[1]! | 0;
    cpu.writeRm(wide ? 64 : 32, a.u32[0]!);
    return;
  }
  const v = cpu.readRm(wide ? 64 : 32);
  const vHi = wide ? cpu.hi : 0;
  if (xmm) {
    a.u32.fill(0);
    a.u32[0] = v;
    a.u32[1] = vHi;
    storeXmm(cpu, xmmIndex(cpu, false), a);
  } else {
    storeMm(cpu, mmIndex(cpu, false), v, vHi);
  }
}

/** 0F 6F / 7F: MOVQ mm (none), MOVDQA (66), MOVDQU (F3). */
function movq128(cpu: X86Cpu, pfx: number, store: boolean): void {
  if (pfx === P.P66 || pfx === P.F3) {
    moveWhole(cpu, store, pfx === P.P66);
    return;
  }
  if (pfx !== P.None) unknown(cpu, store ? 0x7f : 0x6f);
  const a = cpu.sse.a;
  checkMmx(cpu);
  cpu.decodeModrm();
  enterMmx(cpu);
  if (!store) {
    loadMmRm(cpu, a);
    storeMm(cpu, mmIndex(cpu, false), a.u32[0]!, a.u32[1]!);
    return;
  }
  loadMm(cpu, mmIndex(cpu, false), a);
  if (rmIsReg(cpu)) storeMm(cpu, mmIndex(cpu, true), a.u32[0]!, a.u32[1]!);
  else storeMem(cpu, a, 8, false);
}

/** 0F D6: 66 MOVQ xmm/m64, xmm; F3 MOVQ2DQ xmm, mm; F2 MOVDQ2Q mm, xmm. */
function movqD6(cpu: X86Cpu, pfx: number): void {
  const a = cpu.sse.a;
  if (pfx === P.None) unknown(cpu, 0xd6);
  checkSse(cpu);
  cpu.decodeModrm();
  if (pfx === P.P66) {
    loadXmm(cpu, xmmIndex(cpu, false), a);
    if (rmIsReg(cpu)) {
      a.u32[2] = 0;
      a.u32[3] = 0;
      storeXmm(cpu, xmmIndex(cpu, true), a);
    } else {
      storeMem(cpu, a, 8, false);
    }
    return;
  }
  if (!rmIsReg(cpu)) cpu.raise(Vec.UD);
  checkMmx(cpu);
  enterMmx(cpu);
  if (pfx === P.F3) {
    a.u32.fill(0);
    loadMm(cpu, mmIndex(cpu, true), a);
    storeXmm(cpu, xmmIndex(cpu, false), a);
  } else {
    loadXmm(cpu, xmmIndex(cpu, true), a);
    storeMm(cpu, mmIndex(cpu, false), a.u32[0]!, a.u32[1]!);
  }
}

/** 0F E7: MOVNTQ m64, mm; 66 MOVNTDQ m128, xmm. */
function movnt(cpu: X86Cpu, pfx: number): void {
  const a = cpu.sse.a;
  if (pfx === P.P66) {
    checkSse(cpu);
    cpu.decodeModrm();
    if (rmIsReg(cpu)) cpu.raise(Vec.UD);
    moveWholeDecoded(cpu, true, true);
    return;
  }
  if (pfx !== P.None) unknown(cpu, 0xe7);
  checkMmx(cpu);
  cpu.decodeModrm();
  if (rmIsReg(cpu)) cpu.raise(Vec.UD);
  enterMmx(cpu);
  loadMm(cpu, mmIndex(cpu, false), a);
  storeMem(cpu, a, 8, false);
}

/** 0F 50: MOVMSKPS / MOVMSKPD r32, xmm. */
function movmsk(cpu: X86Cpu, pfx: number): void {
  if (pfx >= P.F3) unknown(cpu, 0x50);
  const a = cpu.sse.a;
  checkSse(cpu);
  cpu.decodeModrm();
  if (!rmIsReg(cpu)) cpu.raise(Vec.UD);
  loadXmm(cpu, xmmIndex(cpu, true), a);
  const m = pfx === P.None
    ? (a.u32[0]! >>> 31) | ((a.u32[1]! >>> 31) << 1) | ((a.u32[2]! >>> 31) << 2) | ((a.u32[3]! >>> 31) << 3)
    : (a.u32[1]! >>> 31) | ((a.u32[3]! >>> 31) << 1);
  cpu.setReg(32, cpu.modReg, m);
}

// ---------------------------------------------------------------------------------------------
// Floating point
// ---------------------------------------------------------------------------------------------

/**
 * Loads the destination into `a` and the source into `b` for a PS/PD/SS/SD instruction:
 * packed sources are m128 (aligned), scalar ones m32/m64 (no alignment). Returns the
 * destination register.
 */
function fpOperands(cpu: X86Cpu, pfx: number): number {
  const st = cpu.sse;
  checkSse(cpu);
  cpu.decodeModrm();
  const d = xmmIndex(cpu, false);
  if (pfx <= P.P66 || rmIsReg(cpu)) loadXmmRm(cpu, st.b, true);
  else loadMem(cpu, st.b, pfx === P.F3 ? 4 : 8, false);
  loadXmm(cpu, d, st.a);
  return d;
}

function fpArith(cpu: X86Cpu, pfx: number, fop: FpOp): void {
  const st = cpu.sse;
  const d = fpOperands(cpu, pfx);
  const a = st.a, b = st.b, r = st.r;
  beginFp(cpu);
  r.u32.set(a.u32);
  switch (pfx) {
    case P.None: for (let i = 0; i < 4; i++) r.u32[i] = laneS(st, fop, a.u32[i]!, b.u32[i]!); break;
    case P.P66: laneD(st, fop, a.u32, 0, b.u32, 0, r.u32, 0); laneD(st, fop, a.u32, 2, b.u32, 2, r.u32, 2); break;
    case P.F3: r.u32[0] = laneS(st, fop, a.u32[0]!, b.u32[0]!); break;
    default: laneD(st, fop, a.u32, 0, b.u32, 0, r.u32, 0); break;
  }
  commitFp(cpu);
  storeXmm(cpu, d, r);
}

/** 0F C2: CMPPS/CMPPD/CMPSS/CMPSD with the predicate in imm8[2:0]. */
function cmpFp(cpu: X86Cpu, pfx: number): void {
  const st = cpu.sse;
  const d = fpOperands(cpu, pfx);
  const pred = cpu.fetch8() & 7;
  const a = st.a, b = st.b, r = st.r;
  beginFp(cpu);
  r.u32.set(a.u32);
  if (pfx === P.None || pfx === P.F3) {
    for (let i = 0; i < (pfx === P.None ? 4 : 1); i++) r.i32[i] = compareS(st, pred, a.u32[i]!, b.u32[i]!) ? -1 : 0;
  } else {
    for (let i = 0; i < (pfx === P.P66 ? 4 : 2); i += 2) {
      const m = compareD(st, pred, a.u32, i, b.u32, i) ? -1 : 0;
      r.i32[i] = m;
      r.i32[i + 1] = m;
    }
  }
  commitFp(cpu);
  storeXmm(cpu, d, r);
}

/** 0F 2E/2F: UCOMISS/COMISS (none), UCOMISD/COMISD (66): ZF, PF, CF; OF, SF, AF cleared. */
function comis(cpu: X86Cpu, pfx: number, ordered: boolean): void {
  if (pfx >= P.F3) unknown(cpu, ordered ? 0x2f : 0x2e);
  const st = cpu.sse;
  checkSse(cpu);
  cpu.decodeModrm();
  const a = st.a, b = st.b;
  loadXmm(cpu, xmmIndex(cpu, false), a);
  if (rmIsReg(cpu)) loadXmm(cpu, xmmIndex(cpu, true), b);
  else loadMem(cpu, b, pfx === P.None ? 4 : 8, false);
  beginFp(cpu);
  const f = pfx === P.None ? comisS(st, ordered, a.u32[0]!, b.u32[0]!) : comisD(st, ordered, a.u32, 0, b.u32, 0);
  commitFp(cpu);
  cpu.setArithFlags(f);
}

/** 0F 54-57: ANDPS/ANDNPS/ORPS/XORPS and the PD forms (bitwise, no exceptions). */
function logicFp(cpu: X86Cpu, pfx: number, op: number): void {
  if (pfx >= P.F3) unknown(cpu, op);
  const st = cpu.sse;
  const d = fpOperands(cpu, pfx);
  const a = st.a, b = st.b;
  for (let i = 0; i < 4; i++) {
    const x = a.u32[i]!, y = b.u32[i]!;
    a.u32[i] = op === 0x54 ? x & y : op === 0x55 ? ~x & y : op === 0x56 ? x | y : x ^ y;
  }
  storeXmm(cpu, d, a);
}

/** 0F 14/15: UNPCKLPS/UNPCKHPS, UNPCKLPD/UNPCKHPD. */
function unpckFp(cpu: X86Cpu, pfx: number, high: boolean): void {
  if (pfx >= P.F3) unknown(cpu, high ? 0x15 : 0x14);
  const st = cpu.sse;
  const d = fpOperands(cpu, pfx);
  const a = st.a, b = st.b, r = st.r;
  if (pfx === P.None) {
    const base = high ? 2 : 0;
    r.u32[0] = a.u32[base]!; r.u32[1] = b.u32[base]!;
    r.u32[2] = a.u32[base + 1]!; r.u32[3] = b.u32[base + 1]!;
  } else {
    const base = high ? 2 : 0;
    r.u32[0] = a.u32[base]!; r.u32[1] = a.u32[base + 1]!;
    r.u32[2] = b.u32[base]!; r.u32[3] = b.u32[base + 1]!;
  }
  storeXmm(cpu, d, r);
}

/** 0F C6: SHUFPS / SHUFPD. */
function shufFp(cpu: X86Cpu, pfx: number): void {
  if (pfx >= P.F3) unknown(cpu, 0xc6);
  const st = cpu.sse;
  const d = fpOperands(cpu, pfx);
  const imm = cpu.fetch8();
  const a = st.a, b = st.b, r = st.r;
  if (pfx === P.None) {
    r.u32[0] = a.u32[imm & 3]!;
    r.u32[1] = a.u32[(imm >> 2) & 3]!;
    r.u32[2] = b.u32[(imm >> 4) & 3]!;
    r.u32[3] = b.u32[(imm >> 6) & 3]!;
  } else {
    const lo = (imm & 1) * 2, hi = ((imm >> 1) & 1) * 2;
    r.u32[0] = a.u32[lo]!; r.u32[1] = a.u32[lo + 1]!;
    r.u32[2] = b.u32[hi]!; r.u32[3] = b.u32[hi + 1]!;
  }
  storeXmm(cpu, d, r);
}

/** 0F 52/53: RSQRTPS/RSQRTSS, RCPPS/RCPSS (approximations; no exceptions). */
function approx(cpu: X86Cpu, pfx: number, rsqrt: boolean): void {
  if (pfx === P.P66 || pfx === P.F2) unknown(cpu, rsqrt ? 0x52 : 0x53);
  const st = cpu.sse;
  const d = fpOperands(cpu, pfx);
  const a = st.a, b = st.b;
  for (let i = 0; i < (pfx === P.None ? 4 : 1); i++) a.u32[i] = approxS(b.u32[i]!, rsqrt);
  storeXmm(cpu, d, a);
}
