/**
 * The internal snapshot table (qcow2.txt "Snapshots"): one entry per snapshot with its L1
 * table, VM state size, times, and the version 3 extra data (vm_state_size_large, disk_size,
 * icount). Read with QEMU's limits (`qcow2_read_snapshots`); written as QEMU writes it, keeping
 * extra data it does not know.
 */

import { BlockError } from '../block-backend.js';
import type { HostFile } from '../host-file.js';
import { be16, be32, put16, put32, put64 } from './bytes.js';
import { QCOW_MAX_SNAPSHOTS_SIZE, QCOW_MAX_SNAPSHOT_EXTRA_DATA, SNAPSHOT_HEADER_SIZE } from './header.js';

/** Size of the extra data pcvm writes (QCowSnapshotExtraData). */
const EXTRA_SIZE = 24;

export interface SnapshotRecord {
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNs: number;
  vmStateSize: number;
  diskSize: number;
  /** -1 when not recorded. */
  icount: number;
  /** Extra data beyond the fields pcvm knows, kept as it was. */
  unknownExtra: Uint8Array;
}

function u64Num(b: Uint8Array, off: number): number {
  return Number((BigInt(be32(b, off)) << 32n) | BigInt(be32(b, off + 4)));
}

function decode(b: Uint8Array): string {
  return Buffer.from(b).toString('utf8');
}

/** Reads `count` entries at `offset`; `diskSize` is used when an entry has no disk_size. */
export function readSnapshotTable(file: HostFile, offset: number, count: number, diskSize: number): SnapshotRecord[] {
  const out: SnapshotRecord[] = [];
  let pos = offset;
  const h = new Uint8Array(SNAPSHOT_HEADER_SIZE);
  const fileSize = file.size();
  for (let i = 0; i < count; i++) {
    pos = Math.ceil(pos / 8) * 8;
    if (pos + SNAPSHOT_HEADER_SIZE > fileSize) throw new BlockError('Snapshot table lies beyond the end of the image file; the image is truncated or corrupt');
    file.pread(pos, h);
    pos += SNAPSHOT_HEADER_SIZE;
    const hi = be32(h, 0);
    const l1TableOffset = hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + be32(h, 4);
    const l1Size = be32(h, 8);
    const idSize = be16(h, 12);
    const nameSize = be16(h, 14);
    const extraSize = be32(h, 36);
    if (extraSize > QCOW_MAX_SNAPSHOT_EXTRA_DATA) throw new BlockError(`Too much extra metadata in snapshot table entry ${i}`);
    const extra = new Uint8Array(extraSize);
    file.pread(pos, extra);
    pos += extraSize;
    let vmStateSize = be32(h, 32);
    if (extraSize >= 8) vmStateSize = u64Num(extra, 0);
    const diskSizeHere = extraSize >= 16 ? u64Num(extra, 8) : diskSize;
    let icount = -1;
    if (extraSize >= 24) {
      icount = be32(extra, 16) === 0xffff_ffff && be32(extra, 20) === 0xffff_ffff ? -1 : u64Num(extra, 16);
    }
    const strings = new Uint8Array(idSize + nameSize);
    file.pread(pos, strings);
    pos += idSize + nameSize;
    if (pos - offset > QCOW_MAX_SNAPSHOTS_SIZE) throw new BlockError('Snapshot table is too big');
    if (pos > fileSize) throw new BlockError('Snapshot table lies beyond the end of the image file; the image is truncated or corrupt');
    out.push({
      l1TableOffset, l1Size,
      id: decode(strings.subarray(0, idSize)), name: decode(strings.subarray(idSize)),
      dateSec: be32(h, 16), dateNsec: be32(h, 20), vmClockNs: u64Num(h, 24),
      vmStateSize, diskSize: diskSizeHere, icount,
      unknownExtra: extraSize > EXTRA_SIZE ? extra.slice(EXTRA_SIZE) : new Uint8Array(0),
    });
  }
  return out;
}

/** The table as bytes, entries 8-byte aligned (QEMU's `qcow2_write_snapshots`). */
export function encodeSnapshotTable(list: readonly SnapshotRecord[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const sn of list) {
    const id = Buffer.from(sn.id, 'utf8');
    const name = Buffer.from(sn.name, 'utf8');
    if (id.length > 0xffff || name.length > 0xffff) throw new BlockError('Snapshot name too long');
    const extraSize = EXTRA_SIZE + sn.unknownExtra.length;
    const len = SNAPSHOT_HEADER_SIZE + extraSize + id.length + name.length;
    const padded = Math.ceil(len / 8) * 8;
    const b = new Uint8Array(padded);
    put64(b, 0, sn.l1TableOffset);
    put32(b, 8, sn.l1Size);
    put16(b, 12, id.length);
    put16(b, 14, name.length);
    put32(b, 16, sn.dateSec);
    put32(b, 20, sn.dateNsec);
    put64(b, 24, sn.vmClockNs);
    // A VM state of 4 GiB or more is recorded only in the extra data (older readers see a disk-only snapshot).
    put32(b, 32, sn.vmStateSize <= 0xffff_ffff ? sn.vmStateSize : 0);
    put32(b, 36, extraSize);
    put64(b, 40, sn.vmStateSize);
    put64(b, 48, sn.diskSize);
    if (sn.icount < 0) { put32(b, 56, 0xffff_ffff); put32(b, 60, 0xffff_ffff); } else put64(b, 56, sn.icount);
    b.set(sn.unknownExtra, 64);
    b.set(id, 40 + extraSize);
    b.set(name, 40 + extraSize + id.length);
    parts.push(b);
    size += padded;
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
