/**
 * Packed-integer operations shared by MMX (8-byte operands) and SSE2 (16-byte operands),
 * keyed by their 0F opcode byte (SDM Vol. 2D Table A-3, rows 6x, 7x, Dx, Ex, Fx): additions
 * and subtractions (wrapping and saturating), multiplies, PMADDWD, PSADBW, averages, min/max,
 * compares, packs, unpacks, logic and shifts. Each computes `a op b` into `a` over `n` bytes;
 * `r` is scratch for results that must not overwrite a source early.
 */
import type { Vec128 } from './sse-state.js';
import { mul32 } from '../alu.js';

function sat8(x: number): number { return x < -128 ? -128 : x > 127 ? 127 : x; }
function sat16(x: number): number { return x < -32768 ? -32768 : x > 32767 ? 32767 : x; }
function satU8(x: number): number { return x < 0 ? 0 : x > 255 ? 255 : x; }
function satU16(x: number): number { return x < 0 ? 0 : x > 65535 ? 65535 : x; }

/** Shift count from a 64-bit register/memory operand (b's low qword), saturated. */
export function shiftCount(b: Vec128): number {
  return b.u32[1] !== 0 ? 0xffff : b.u32[0]! > 0xffff ? 0xffff : b.u32[0]!;
}

/** PSRL/PSRA/PSLL of element size `bits` by `count` (0F 71-73 immediates, D1-F3 registers). */
export function shift(a: Vec128, n: number, bits: number, kind: 'l' | 'r' | 'a', count: number): void {
  if (bits === 16) {
    for (let i = 0; i < n >> 1; i++) {
      if (kind === 'a') a.i16[i] = a.i16[i]! >> Math.min(count, 15);
      else if (count > 15) a.u16[i] = 0;
      else a.u16[i] = kind === 'l' ? a.u16[i]! << count : a.u16[i]! >>> count;
    }
  } else if (bits === 32) {
    for (let i = 0; i < n >> 2; i++) {
      if (kind === 'a') a.i32[i] = a.i32[i]! >> Math.min(count, 31);
      else if (count > 31) a.u32[i] = 0;
      else a.u32[i] = kind === 'l' ? a.u32[i]! << count : a.u32[i]! >>> count;
    }
  } else {
    for (let i = 0; i < n >> 2; i += 2) {
      const lo = a.u32[i]!, hi = a.u32[i + 1]!;
      if (count > 63) {
        a.u32[i] = 0;
        a.u32[i + 1] = 0;
      } else if (count >= 32) {
        a.u32[i] = kind === 'l' ? 0 : hi >>> (count - 32);
        a.u32[i + 1] = kind === 'l' ? lo << (count - 32) : 0;
      } else if (count > 0) {
        a.u32[i] = kind === 'l' ? lo << count : (lo >>> count) | (hi << (32 - count));
        a.u32[i + 1] = kind === 'l' ? (hi << count) | (lo >>> (32 - count)) : hi >>> count;
      }
    }
  }
}

/** PSLLDQ (left) / PSRLDQ: byte shift of the whole 128-bit register. */
export function byteShift(a: Vec128, r: Vec128, left: boolean, count: number): void {
  for (let i = 0; i < 16; i++) {
    const j = left ? i - count : i + count;
    r.u8[i] = j >= 0 && j < 16 ? a.u8[j]! : 0;
  }
  a.u32.set(r.u32);
}

/**
 * The binary packed-integer operation of opcode `op` (0F op, no-prefix/66 forms). Returns
 * false if `op` is not one of them.
 */
export function packedInt(op: number, a: Vec128, b: Vec128, r: Vec128, n: number): boolean {
  const nw = n >> 1, nd = n >> 2;
  switch (op) {
    // --- Unpacks (low/high halves interleaved) and packs ----------------------------------
    case 0x60: case 0x68: { // PUNPCKLBW / PUNPCKHBW
      const base = op === 0x60 ? 0 : n >> 1;
      for (let i = 0; i < n >> 1; i++) { r.u8[2 * i] = a.u8[base + i]!; r.u8[2 * i + 1] = b.u8[base + i]!; }
      break;
    }
    case 0x61: case 0x69: { // PUNPCKLWD / PUNPCKHWD
      const base = op === 0x61 ? 0 : nw >> 1;
      for (let i = 0; i < nw >> 1; i++) { r.u16[2 * i] = a.u16[base + i]!; r.u16[2 * i + 1] = b.u16[base + i]!; }
      break;
    }
    case 0x62: case 0x6a: { // PUNPCKLDQ / PUNPCKHDQ
      const base = op === 0x62 ? 0 : nd >> 1;
      for (let i = 0; i < nd >> 1; i++) { r.u32[2 * i] = a.u32[base + i]!; r.u32[2 * i + 1] = b.u32[base + i]!; }
      break;
    }
    case 0x6c: case 0x6d: { // PUNPCKLQDQ / PUNPCKHQDQ (16 bytes only)
      const base = op === 0x6c ? 0 : 2;
      r.u32[0] = a.u32[base]!; r.u32[1] = a.u32[base + 1]!;
      r.u32[2] = b.u32[base]!; r.u32[3] = b.u32[base + 1]!;
      break;
    }
    case 0x63: // PACKSSWB
      for (let i = 0; i < nw; i++) { r.i8[i] = sat8(a.i16[i]!); r.i8[nw + i] = sat8(b.i16[i]!); }
      break;
    case 0x67: // PACKUSWB
      for (let i = 0; i < nw; i++) { r.u8[i] = satU8(a.i16[i]!); r.u8[nw + i] = satU8(b.i16[i]!); }
      break;
    case 0x6b: // PACKSSDW
      for (let i = 0; i < nd; i++) { r.i16[i] = sat16(a.i32[i]!); r.i16[nd + i] = sat16(b.i32[i]!); }
      break;
    // --- Compares ---------------------------------------------------------------------------
    case 0x64: for (let i = 0; i < n; i++) a.u8[i] = a.i8[i]! > b.i8[i]! ? 0xff : 0; return true;
    case 0x65: for (let i = 0; i < nw; i++) a.u16[i] = a.i16[i]! > b.i16[i]! ? 0xffff : 0; return true;
    case 0x66: for (let i = 0; i < nd; i++) a.i32[i] = a.i32[i]! > b.i32[i]! ? -1 : 0; return true;
    case 0x74: for (let i = 0; i < n; i++) a.u8[i] = a.u8[i] === b.u8[i] ? 0xff : 0; return true;
    case 0x75: for (let i = 0; i < nw; i++) a.u16[i] = a.u16[i] === b.u16[i] ? 0xffff : 0; return true;
    case 0x76: for (let i = 0; i < nd; i++) a.i32[i] = a.u32[i] === b.u32[i] ? -1 : 0; return true;
    // --- Add / subtract ---------------------------------------------------------------------
    case 0xfc: for (let i = 0; i < n; i++) a.u8[i] = a.u8[i]! + b.u8[i]!; return true;
    case 0xfd: for (let i = 0; i < nw; i++) a.u16[i] = a.u16[i]! + b.u16[i]!; return true;
    case 0xfe: for (let i = 0; i < nd; i++) a.u32[i] = a.u32[i]! + b.u32[i]!; return true;
    case 0xd4: case 0xfb: { // PADDQ / PSUBQ
      for (let i = 0; i < nd; i += 2) {
        const lo = op === 0xd4 ? a.u32[i]! + b.u32[i]! : a.u32[i]! - b.u32[i]!;
        const carry = op === 0xd4 ? (lo > 0xffffffff ? 1 : 0) : (lo < 0 ? -1 : 0);
        a.u32[i + 1] = (op === 0xd4 ? a.u32[i + 1]! + b.u32[i + 1]! : a.u32[i + 1]! - b.u32[i + 1]!) + carry;
        a.u32[i] = lo;
      }
      return true;
    }
    case 0xf8: for (let i = 0; i < n; i++) a.u8[i] = a.u8[i]! - b.u8[i]!; return true;
    case 0xf9: for (let i = 0; i < nw; i++) a.u16[i] = a.u16[i]! - b.u16[i]!; return true;
    case 0xfa: for (let i = 0; i < nd; i++) a.u32[i] = a.u32[i]! - b.u32[i]!; return true;
    case 0xec: for (let i = 0; i < n; i++) a.i8[i] = sat8(a.i8[i]! + b.i8[i]!); return true;
    case 0xed: for (let i = 0; i < nw; i++) a.i16[i] = sat16(a.i16[i]! + b.i16[i]!); return true;
    case 0xdc: for (let i = 0; i < n; i++) a.u8[i] = satU8(a.u8[i]! + b.u8[i]!); return true;
    case 0xdd: for (let i = 0; i < nw; i++) a.u16[i] = satU16(a.u16[i]! + b.u16[i]!); return true;
    case 0xe8: for (let i = 0; i < n; i++) a.i8[i] = sat8(a.i8[i]! - b.i8[i]!); return true;
    case 0xe9: for (let i = 0; i < nw; i++) a.i16[i] = sat16(a.i16[i]! - b.i16[i]!); return true;
    case 0xd8: for (let i = 0; i < n; i++) a.u8[i] = satU8(a.u8[i]! - b.u8[i]!); return true;
    case 0xd9: for (let i = 0; i < nw; i++) a.u16[i] = satU16(a.u16[i]! - b.u16[i]!); return true;
    // --- Multiplies -------------------------------------------------------------------------
    case 0xd5: for (let i = 0; i < nw; i++) a.u16[i] = Math.imul(a.i16[i]!, b.i16[i]!); return true; // PMULLW
    case 0xe5: for (let i = 0; i < nw; i++) a.u16[i] = (a.i16[i]! * b.i16[i]!) >> 16; return true; // PMULHW
    case 0xe4: for (let i = 0; i < nw; i++) a.u16[i] = (a.u16[i]! * b.u16[i]!) >>> 16; return true; // PMULHUW
    case 0xf4: // PMULUDQ: low dword of each qword, full 64-bit product
      for (let i = 0; i < nd; i += 2) mul32(a.u32[i]!, b.u32[i]!, a.u32, i);
      return true;
    case 0xf5: // PMADDWD (0x8000*0x8000 twice wraps to 0x80000000, as the SDM notes)
      for (let i = 0; i < nd; i++) a.i32[i] = (a.i16[2 * i]! * b.i16[2 * i]! + a.i16[2 * i + 1]! * b.i16[2 * i + 1]!) | 0;
      return true;
    case 0xf6: // PSADBW: per 8-byte group, the sum of absolute differences in the low word
      for (let g = 0; g < n; g += 8) {
        let sum = 0;
        for (let i = g; i < g + 8; i++) sum += Math.abs(a.u8[i]! - b.u8[i]!);
        a.u32[g >> 2] = sum;
        a.u32[(g >> 2) + 1] = 0;
      }
      return true;
    // --- Averages, min/max ------------------------------------------------------------------
    case 0xe0: for (let i = 0; i < n; i++) a.u8[i] = (a.u8[i]! + b.u8[i]! + 1) >> 1; return true;
    case 0xe3: for (let i = 0; i < nw; i++) a.u16[i] = (a.u16[i]! + b.u16[i]! + 1) >> 1; return true;
    case 0xda: for (let i = 0; i < n; i++) a.u8[i] = Math.min(a.u8[i]!, b.u8[i]!); return true;
    case 0xde: for (let i = 0; i < n; i++) a.u8[i] = Math.max(a.u8[i]!, b.u8[i]!); return true;
    case 0xea: for (let i = 0; i < nw; i++) a.i16[i] = Math.min(a.i16[i]!, b.i16[i]!); return true;
    case 0xee: for (let i = 0; i < nw; i++) a.i16[i] = Math.max(a.i16[i]!, b.i16[i]!); return true;
    // --- Logic ------------------------------------------------------------------------------
    case 0xdb: for (let i = 0; i < nd; i++) a.u32[i] = a.u32[i]! & b.u32[i]!; return true;
    case 0xdf: for (let i = 0; i < nd; i++) a.u32[i] = ~a.u32[i]! & b.u32[i]!; return true;
    case 0xeb: for (let i = 0; i < nd; i++) a.u32[i] = a.u32[i]! | b.u32[i]!; return true;
    case 0xef: for (let i = 0; i < nd; i++) a.u32[i] = a.u32[i]! ^ b.u32[i]!; return true;
    // --- Shifts by a register/memory count --------------------------------------------------
    case 0xd1: shift(a, n, 16, 'r', shiftCount(b)); return true;
    case 0xd2: shift(a, n, 32, 'r', shiftCount(b)); return true;
    case 0xd3: shift(a, n, 64, 'r', shiftCount(b)); return true;
    case 0xe1: shift(a, n, 16, 'a', shiftCount(b)); return true;
    case 0xe2: shift(a, n, 32, 'a', shiftCount(b)); return true;
    case 0xf1: shift(a, n, 16, 'l', shiftCount(b)); return true;
    case 0xf2: shift(a, n, 32, 'l', shiftCount(b)); return true;
    case 0xf3: shift(a, n, 64, 'l', shiftCount(b)); return true;
    default:
      return false;
  }
  // Results built in r.
  for (let i = 0; i < n >> 2; i++) a.u32[i] = r.u32[i]!;
  return true;
}
