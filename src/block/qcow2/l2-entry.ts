/**
 * L1 and L2 table entries (qcow2.txt "Cluster mapping"). Entries are 64 bits, kept here as
 * two 32-bit halves so that flag bits never pass through floating point:
 *
 *   L1: bits 9-55 L2 table offset, bit 63 COPIED (refcount exactly one).
 *   L2 standard: bits 9-55 host cluster offset, bit 0 "reads as zeros", bit 63 COPIED.
 *   L2 compressed (bit 62): bits 0..x-1 host byte offset, bits x..61 additional 512-byte
 *   sectors, with x = 62 - (cluster_bits - 8).
 */

import { be32, put32 } from './bytes.js';

export const FLAG_COPIED_HI = 0x8000_0000;
export const FLAG_COMPRESSED_HI = 0x4000_0000;
export const FLAG_ZERO_LO = 1;

export const enum ClusterKind {
  Unallocated,
  /** Reads as zeros; may still own a host cluster (`hostOffset` ≠ 0). */
  Zero,
  Normal,
  Compressed,
}

export interface L2Entry {
  readonly kind: ClusterKind;
  /** Host offset of the cluster (Normal, Zero with allocation); compressed: byte offset. */
  readonly hostOffset: number;
  readonly copied: boolean;
  /** Compressed only: bytes to read from hostOffset (whole sectors from its sector start). */
  readonly compressedLength: number;
}

/** Offset bits 9-55 of an entry; Infinity when at or above 2^53. */
function offsetOf(hi: number, lo: number): number {
  const h = hi & 0x00ff_ffff;
  if (h >= 0x20_0000) return Infinity;
  return h * 0x1_0000_0000 + ((lo & ~0x1ff) >>> 0);
}

export function readEntry(table: Uint8Array, index: number): [number, number] {
  return [be32(table, index * 8), be32(table, index * 8 + 4)];
}

export function writeEntry(table: Uint8Array, index: number, hi: number, lo: number): void {
  put32(table, index * 8, hi);
  put32(table, index * 8 + 4, lo);
}

/** Halves of an entry pointing at `offset` with the given flags. */
export function entryFor(offset: number, copied: boolean, zero = false): [number, number] {
  const hi = Math.floor(offset / 0x1_0000_0000);
  return [(hi | (copied ? FLAG_COPIED_HI : 0)) >>> 0, ((offset >>> 0) | (zero ? FLAG_ZERO_LO : 0)) >>> 0];
}

/** The L2 table offset of an L1 entry (0 = none). Infinity for a corrupt huge value. */
export function l1Offset(hi: number, lo: number): number {
  return offsetOf(hi, lo);
}

export function decodeL2(hi: number, lo: number, clusterBits: number): L2Entry {
  const copied = (hi & FLAG_COPIED_HI) !== 0;
  if (hi & FLAG_COMPRESSED_HI) {
    const full = (BigInt(hi) << 32n) | BigInt(lo);
    const shift = BigInt(62 - (clusterBits - 8));
    const offset = Number(full & ((1n << shift) - 1n));
    const sectors = Number((full >> shift) & ((1n << BigInt(clusterBits - 8)) - 1n)) + 1;
    return { kind: ClusterKind.Compressed, hostOffset: offset, copied, compressedLength: sectors * 512 - (offset % 512) };
  }
  const offset = offsetOf(hi, lo);
  if (lo & FLAG_ZERO_LO) return { kind: ClusterKind.Zero, hostOffset: offset, copied, compressedLength: 0 };
  if (offset === 0) return { kind: ClusterKind.Unallocated, hostOffset: 0, copied, compressedLength: 0 };
  return { kind: ClusterKind.Normal, hostOffset: offset, copied, compressedLength: 0 };
}

/** Host clusters a compressed cluster's bytes lie in (each holds one reference for it). */
export function compressedClusters(e: L2Entry, clusterBits: number): [number, number] {
  const cs = 2 ** clusterBits;
  const start = e.hostOffset - (e.hostOffset % 512);
  const end = start + (e.compressedLength + (e.hostOffset % 512));
  return [Math.floor(start / cs), Math.floor((end - 1) / cs)];
}
