/**
 * HMP `info snapshots` in QEMU's format (block/qapi.c bdrv_snapshot_dump, migration/savevm.c
 * hmp_info_snapshots, util/cutils.c size_to_str), for the snapshots of pcvm's disks.
 */
import type { SnapshotInfo } from '../block/block-backend.js';

/** C's `%0.3g`: three significant digits, trailing zeros dropped, `1e+03` style exponents. */
function formatG3(v: number): string {
  if (v === 0) return '0';
  const p = v.toPrecision(3);
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(p);
  const strip = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (!m) return strip(p);
  return `${strip(m[1]!)}e${m[2]}${m[3]!.padStart(2, '0')}`;
}

/** QEMU's size_to_str: "948 KiB", "1.2 MiB", "0 B" (switches unit when the integer part reaches 1000). */
export function sizeToStr(bytes: number): string {
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  const x = bytes / (1000 / 1024);
  // frexp's exponent: x = m · 2^e with m in [0.5, 1).
  const e = x === 0 ? 0 : Math.floor(Math.log2(x)) + 1;
  const i = Math.min(suffixes.length - 1, Math.max(0, Math.trunc((e - 1) / 10)));
  return `${formatG3(bytes / 2 ** (i * 10))} ${suffixes[i]}B`;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** Host local time as QEMU's g_date_time_format "%Y-%m-%d %H:%M:%S". */
function formatDate(sec: number): string {
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** The guest clock as "%02d:%02d:%02d.%03d" (hours are not wrapped). */
function formatVmClock(ns: number): string {
  const secs = Math.floor(ns / 1e9);
  return `${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}.${String(Math.floor(ns / 1e6) % 1000).padStart(3, '0')}`;
}

/** The header line (`bdrv_snapshot_dump(NULL)`). */
export function snapshotHeader(): string {
  return `${'ID'.padEnd(10)}${'TAG'.padEnd(17)}${'VM SIZE'.padStart(8)}${'DATE'.padStart(20)}${'VM CLOCK'.padStart(13)}${'ICOUNT'.padStart(11)}`;
}

/** One snapshot line; `id` replaces the snapshot's own id (QEMU prints "--" for the all-disks list). */
export function snapshotLine(sn: SnapshotInfo, id = sn.id): string {
  const icount = sn.icount >= 0 ? String(sn.icount) : '';
  return `${id.padEnd(9)} ${sn.name.padEnd(16)} ${sizeToStr(sn.vmStateSize).padStart(8)}${formatDate(sn.dateSec).padStart(20)}${formatVmClock(sn.vmClockNs).padStart(13)}${icount.padStart(11)}`;
}

/**
 * The whole listing: the snapshots present on every disk (with the VM state disk's entry),
 * then, per disk, those missing on some other disk.
 */
export function formatSnapshotList(disks: { name: string; snapshots: SnapshotInfo[] }[]): string {
  if (disks.every((d) => d.snapshots.length === 0)) return 'There is no snapshot available.';
  const [first, ...others] = disks;
  const onAll = first!.snapshots.filter((sn) => others.every((d) => d.snapshots.some((o) => o.name === sn.name)));
  const lines = ['List of snapshots present on all disks:'];
  if (onAll.length > 0) {
    lines.push(snapshotHeader());
    for (const sn of onAll) lines.push(snapshotLine(sn, '--'));
  } else {
    lines.push('None');
  }
  for (const d of disks) {
    const partial = d.snapshots.filter((sn) => !onAll.some((a) => a.name === sn.name));
    if (partial.length === 0) continue;
    lines.push('', `List of partial (non-loadable) snapshots on '${d.name}':`, snapshotHeader());
    for (const sn of partial) lines.push(snapshotLine(sn));
  }
  return lines.join('\n');
}
