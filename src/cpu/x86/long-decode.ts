/**
 * Instruction decoding in 64-bit mode (SDM Vol. 2A 2.2.1, Vol. 3A 5.3.1): legacy prefixes,
 * the REX prefix, operand and address sizes, 64-bit ModRM/SIB with R8-R15 and RIP-relative
 * addressing, and the routing of opcodes whose meaning changes in 64-bit mode.
 *
 * Compatibility mode decodes exactly like 32/16-bit protected mode (X86Cpu.step); only
 * 64-bit mode comes here.
 */
import { Vec } from './exceptions.js';
import { Reg, SegReg } from './state.js';
import { execPrimary } from './exec-primary.js';
import { execLong } from './exec-long.js';
import type { X86Cpu } from './cpu.js';

/** 2^47: canonical addresses are the signed numbers in [-2^47, 2^47) (48-bit linear addresses). */
export const CANONICAL_LIMIT = 0x800000000000;
const TWO_48 = 0x1000000000000;

/** Whether a signed 64-bit number is a canonical address. */
export function isCanonical(v: number): boolean {
  return v >= -CANONICAL_LIMIT && v < CANONICAL_LIMIT;
}

/**
 * A canonical address (signed) as the 48-bit linear address the page walk takes: the upper
 * half 0xFFFF8000_00000000.. maps to 2^47..2^48-1. Addresses below 2^32 are unchanged.
 */
export function linear48(v: number): number {
  return v < 0 ? v + TWO_48 : v;
}

/** How 64-bit mode treats a one-byte opcode. */
const enum Route {
  /** As in 32-bit protected mode (execPrimary); REX.R/X/B reach it through the accessors. */
  Legacy = 0,
  /** Differs in 64-bit mode whatever the operand size (exec-long.ts). */
  Long = 1,
  /** Differs only with a 64-bit operand size (REX.W): exec-long.ts then, execPrimary otherwise. */
  Wide = 2,
  /** Invalid in 64-bit mode (SDM Vol. 2D Table A-2, "i64"): #UD. */
  Invalid = 3,
}

const ROUTE = new Uint8Array(256);
function route(kind: Route, ...ops: number[]): void {
  for (const op of ops) ROUTE[op] = kind;
}
function range(from: number, to: number): number[] {
  const r: number[] = [];
  for (let i = from; i <= to; i++) r.push(i);
  return r;
}
// PUSH/POP ES CS SS DS, DAA DAS AAA AAS, PUSHA POPA, BOUND (EVEX), ALU 82 alias, far CALL/JMP
// ptr16:32, LES/LDS (VEX), INTO, AAM AAD, SALC.
route(Route.Invalid, 0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x62,
  0x82, 0x9a, 0xc4, 0xc5, 0xce, 0xd4, 0xd5, 0xd6, 0xea);
// Two-byte map, register-in-opcode forms (REX.B), stack and near-branch ops (64-bit default
// operand size), string and moffs forms (64-bit addresses), MOVSXD, IRETQ, far returns.
route(Route.Long, 0x0f, ...range(0x50, 0x5f), 0x63, 0x68, 0x6a, ...range(0x6c, 0x7f), 0x8f, ...range(0x90, 0x97),
  0x9c, 0x9d, ...range(0xa0, 0xa7), ...range(0xaa, 0xaf), ...range(0xb0, 0xbf), 0xc2, 0xc3, 0xc8, 0xc9, 0xca, 0xcb,
  0xcf, 0xd7, ...range(0xe0, 0xe3), 0xe8, 0xe9, 0xeb, 0xff);
// Operand-size dependent forms: with REX.W they become 64-bit.
route(Route.Wide, 0x01, 0x03, 0x05, 0x09, 0x0b, 0x0d, 0x11, 0x13, 0x15, 0x19, 0x1b, 0x1d, 0x21, 0x23, 0x25,
  0x29, 0x2b, 0x2d, 0x31, 0x33, 0x35, 0x39, 0x3b, 0x3d, 0x69, 0x6b, 0x81, 0x83, 0x85, 0x87, 0x89, 0x8b, 0x8c,
  0x8d, 0x98, 0x99, 0xa9, 0xc1, 0xc7, 0xd1, 0xd3, 0xe5, 0xe7, 0xed, 0xef, 0xf7);

/** Decodes and executes one instruction in 64-bit mode. */
export function stepLong(cpu: X86Cpu): void {
  const s = cpu.s;
  cpu.startEip = s.eip;
  cpu.startRipHi = s.ripHi;
  cpu.segOverride = -1;
  cpu.repPrefix = 0;
  cpu.lockPrefix = false;
  cpu.prefix66 = false;
  let rex = 0;
  let ad32 = false;
  let op = cpu.fetch8();
  for (let n = 0; ; n++) {
    if (n >= 14) cpu.gp(0);
    if ((op & 0xf0) === 0x40) {
      // REX counts only directly before the opcode: a later legacy prefix cancels it.
      rex = op;
    } else {
      switch (op) {
        case 0x66: cpu.prefix66 = true; break;
        case 0x67: ad32 = true; break;
        // ES, CS, SS and DS overrides are ignored in 64-bit mode (all have base 0).
        case 0x26: case 0x2e: case 0x36: case 0x3e: break;
        case 0x64: cpu.segOverride = SegReg.FS; break;
        case 0x65: cpu.segOverride = SegReg.GS; break;
        case 0xf0: cpu.lockPrefix = true; break;
        case 0xf2: case 0xf3: cpu.repPrefix = op; break;
        default: {
          cpu.rex = rex;
          cpu.rexW = (rex & 8) !== 0;
          cpu.rexR = (rex & 4) << 1;
          cpu.rexX = (rex & 2) << 2;
          cpu.rexB = (rex & 1) << 3;
          cpu.opSize = cpu.rexW ? 64 : cpu.prefix66 ? 16 : 32;
          cpu.adSize = ad32 ? 32 : 64;
          if (cpu.lockPrefix && !cpu.lockable(op)) cpu.raise(Vec.UD);
          cpu.opcode = op;
          switch (ROUTE[op]) {
            case Route.Legacy: execPrimary(cpu, op); break;
            case Route.Long: execLong(cpu, op); break;
            case Route.Wide:
              if (cpu.rexW) execLong(cpu, op);
              else execPrimary(cpu, op);
              break;
            default: cpu.raise(Vec.UD);
          }
          cpu.retired++;
          return;
        }
      }
      rex = 0;
    }
    op = cpu.fetch8();
  }
}

/**
 * ModRM/SIB memory operand in 64-bit mode (SDM Vol. 2A Tables 2-4, 2-5 with REX). Computes
 * the exact 64-bit effective address as halves (cpu.eaLo/eaHi), and eaOff: the signed number
 * for a 64-bit address size, the zero-extended 32-bit one with a 67h prefix.
 */
export function decodeEaLong(cpu: X86Cpu, m: number): void {
  const g = cpu.s.gpr;
  const h = cpu.s.gprHi;
  const wide = cpu.adSize === 64;
  const mod = m >> 6;
  const rm = m & 7;
  // lo accumulates unsigned low halves and the signed displacement (|lo| < 2^37, exact);
  // hi the high halves as int32, with the carry out of lo added at the end.
  let lo = 0;
  let hi = 0;
  let seg: number = SegReg.DS;
  if (rm === 4) {
    const sib = cpu.fetch8();
    const base = (sib & 7) | cpu.rexB;
    const index = ((sib >> 3) & 7) | cpu.rexX;
    const scale = sib >> 6;
    if (index !== 4) {
      lo = (g[index]! >>> 0) * (1 << scale);
      hi = wide ? (h[index]! << scale) | 0 : 0;
    }
    if ((base & 7) === 5 && mod === 0) {
      lo += cpu.fetch32() | 0;
    } else {
      lo += g[base]! >>> 0;
      if (wide) hi = (hi + h[base]!) | 0;
      if (base === Reg.ESP || base === Reg.EBP) seg = SegReg.SS;
    }
  } else if (rm === 5 && mod === 0) {
    // RIP-relative: from the end of the instruction, i.e. past the immediate that follows.
    lo = (cpu.fetch32() | 0) + (cpu.s.eip >>> 0) + immediateBytes(cpu, m);
    hi = cpu.s.ripHi;
  } else {
    const r = rm | cpu.rexB;
    lo = g[r]! >>> 0;
    if (wide) hi = h[r]!;
    if (r === Reg.EBP) seg = SegReg.SS;
  }
  if (mod === 1) lo += (cpu.fetch8() << 24) >> 24;
  else if (mod === 2) lo += cpu.fetch32() | 0;
  if (wide) {
    const eaHi = (hi + Math.floor(lo / 4294967296)) | 0;
    const eaLo = lo >>> 0;
    cpu.eaHi = eaHi;
    cpu.eaLo = eaLo;
    cpu.eaOff = eaHi * 4294967296 + eaLo;
  } else {
    cpu.eaHi = 0;
    cpu.eaLo = lo >>> 0;
    cpu.eaOff = lo >>> 0;
  }
  cpu.eaSeg = cpu.segOverride >= 0 ? cpu.segOverride : seg;
}

/**
 * Immediate bytes that follow the ModRM operand of `cpu.opcode` (SDM Vol. 2D Tables:
 * the Ib/Iz operands of ModRM forms). Only RIP-relative addressing needs it.
 */
function immediateBytes(cpu: X86Cpu, modrm: number): number {
  const op = cpu.opcode;
  const z = cpu.opSize === 16 ? 2 : 4;
  switch (op) {
    case 0x69: case 0x81: case 0xc7: return z;
    case 0x6b: case 0x80: case 0x83: case 0xc0: case 0xc1: case 0xc6: return 1;
    case 0xf6: return (modrm & 0x30) === 0 ? 1 : 0; // TEST Eb, Ib is /0 and /1
    case 0xf7: return (modrm & 0x30) === 0 ? z : 0;
    // 0F map: PSHUFx/PSxxx Ib, SHLD/SHRD Ib, BT group Ib, CMPPx, PINSRW, PEXTRW, SHUFPx; 0F 3A xx.
    case 0x170: case 0x171: case 0x172: case 0x173: case 0x1a4: case 0x1ac: case 0x1ba:
    case 0x1c2: case 0x1c4: case 0x1c5: case 0x1c6: case 0x13a:
      return 1;
    default: return 0;
  }
}
