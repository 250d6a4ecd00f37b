/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
 * words, and the IPv4 pseudo-header sum that TCP and UDP add (RFC 793 §3.1, RFC 768).
 */

/** Adds `data` (odd length padded with a zero byte) to a running 32-bit sum. */
export function sumWords(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  return sum;
}

/** Folds a running sum into the final 16-bit checksum (complemented). */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

export function internetChecksum(data: Uint8Array): number {
  return finishChecksum(sumWords(data));
}

/** Sum of the IPv4 pseudo-header: source, destination, protocol, transport length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}
