/**
 * Big-endian field access for qcow2 metadata. qcow2 stores 64-bit offsets and sizes; pcvm
 * keeps them as JavaScript numbers, exact below 2^53 (8 PiB), and treats anything larger as
 * a value no valid image of a size pcvm can open holds.
 */

import { BlockError } from '../block-backend.js';

const TWO32 = 0x1_0000_0000;

export function be16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** A 64-bit field split in halves, for entries whose high bits are flags. */
export function be64Hi(b: Uint8Array, off: number): number {
  return be32(b, off);
}

/**
 * A 64-bit unsigned field as a number; `what` names it in the error when it is 2^53 or more
 * (no image pcvm can open has such an offset or size).
 */
export function be64(b: Uint8Array, off: number, what: string): number {
  const hi = be32(b, off);
  if (hi >= 0x20_0000) throw new BlockError(`${what} is too large (0x${hi.toString(16)}${be32(b, off + 4).toString(16).padStart(8, '0')})`);
  return hi * TWO32 + be32(b, off + 4);
}

export function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

export function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Writes a number (0 ≤ v < 2^53, or a flags word built with `hi`) as a big-endian u64. */
export function put64(b: Uint8Array, off: number, v: number, hiFlags = 0): void {
  put32(b, off, (Math.floor(v / TWO32) | hiFlags) >>> 0);
  put32(b, off + 4, v >>> 0);
}

/** A big-endian u64 as bytes. */
export function u64Bytes(v: number, hiFlags = 0): Uint8Array {
  const b = new Uint8Array(8);
  put64(b, 0, v, hiFlags);
  return b;
}
