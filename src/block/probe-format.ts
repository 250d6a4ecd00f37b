/**
 * Image format probing from the first 512 bytes of a file, as QEMU's `bdrv_probe_all` does:
 * every format driver with a content probe scores the buffer, the highest score wins, and raw
 * (score 1) wins only when nothing else claims it.
 *
 * pcvm opens only raw and qcow2, but the probe must know the other formats too: a probed raw
 * image refuses a write that would make block 0 look like any of them (QEMU's raw driver,
 * `raw_co_pwritev`), so a guest cannot turn its disk into, say, a qcow2 header that points at
 * host files on the next start.
 *
 * Scores and magics follow each QEMU driver's `*_probe` function (block/qcow2.c, qcow.c,
 * qed.c, vdi.c, vmdk.c, vpc.c, vhdx.c, bochs.c, cloop.c, parallels.c, crypto/block-luks.c).
 * dmg probes only the file name, so it never claims content.
 */

/** QEMU's BLOCK_PROBE_BUF_SIZE. */
export const PROBE_BUF_SIZE = 512;

interface Prober {
  readonly format: string;
  readonly score: (b: Uint8Array) => number;
}

function ascii(b: Uint8Array, off: number, s: string): boolean {
  if (b.length < off + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[off + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** A NUL-terminated C string equal to `s` (strcmp semantics). */
function cString(b: Uint8Array, off: number, s: string): boolean {
  return ascii(b, off, s) && b[off + s.length] === 0;
}

function be32(b: Uint8Array, off: number): number {
  return b.length < off + 4 ? -1 : ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function le32(b: Uint8Array, off: number): number {
  return b.length < off + 4 ? -1 : (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"

/** vmdk_probe's text-descriptor case: the first line that is not a comment or blank is version=1..3. */
function vmdkDescriptor(b: Uint8Array): boolean {
  let p = 0;
  while (p < b.length) {
    if (b[p] === 0x23 /* # */) {
      while (p < b.length && b[p] !== 0x0a) p++;
      p++;
      continue;
    }
    if (b[p] === 0x20) {
      while (p < b.length && b[p] === 0x20) p++;
      if (p < b.length && b[p] === 0x0a) p++;
      continue;
    }
    for (const v of ['1', '2', '3']) {
      if (ascii(b, p, `version=${v}\n`) || ascii(b, p, `version=${v}\r\n`)) return true;
    }
    return false;
  }
  return false;
}

const PROBERS: readonly Prober[] = [
  { format: 'qcow2', score: (b) => (be32(b, 0) === QCOW_MAGIC && be32(b, 4) >= 2 ? 100 : 0) },
  { format: 'qcow', score: (b) => (be32(b, 0) === QCOW_MAGIC && be32(b, 4) === 1 ? 100 : 0) },
  { format: 'qed', score: (b) => (b.length >= 64 && le32(b, 0) === 0x00444551 ? 100 : 0) },
  { format: 'vdi', score: (b) => (b.length >= 400 && le32(b, 0x40) === 0xbeda107f ? 100 : 0) },
  {
    format: 'vmdk',
    score: (b) => (b.length < 4 ? 0 : ascii(b, 0, 'KDMV') || ascii(b, 0, 'COWD') || vmdkDescriptor(b) ? 100 : 0),
  },
  { format: 'vpc', score: (b) => (ascii(b, 0, 'conectix') ? 100 : 0) },
  { format: 'vhdx', score: (b) => (ascii(b, 0, 'vhdxfile') ? 100 : 0) },
  {
    format: 'bochs',
    score: (b) =>
      b.length >= 512 && cString(b, 0, 'Bochs Virtual HD Image') && cString(b, 32, 'Redolog') &&
      cString(b, 48, 'Growing') && (le32(b, 64) === 0x00020000 || le32(b, 64) === 0x00010000) ? 100 : 0,
  },
  {
    format: 'cloop',
    score: (b) =>
      ascii(b, 0, '#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n') ? 2 : 0,
  },
  {
    format: 'parallels',
    score: (b) =>
      b.length >= 64 && (ascii(b, 0, 'WithoutFreeSpace') || ascii(b, 0, 'WithouFreSpacExt')) && le32(b, 16) === 2 ? 100 : 0,
  },
  {
    format: 'luks',
    score: (b) => {
      if (b.length < 8 || !ascii(b, 0, 'LUKS') || b[4] !== 0xba || b[5] !== 0xbe) return 0;
      const version = (b[6]! << 8) | b[7]!;
      return version === 1 || version === 2 ? 100 : 0;
    },
  },
];

/** The format QEMU would probe for a file starting with `head` (at most 512 bytes are looked at). */
export function probeFormat(head: Uint8Array): string {
  const b = head.subarray(0, PROBE_BUF_SIZE);
  let best = 'raw';
  let bestScore = 1;
  for (const p of PROBERS) {
    const s = p.score(b);
    if (s > bestScore) {
      best = p.format;
      bestScore = s;
    }
  }
  return best;
}
