/**
 * A qcow2 image (QEMU docs/interop/qcow2.txt, versions 2 and 3) as a block backend with
 * internal snapshots.
 *
 * Guest offset → L1 entry → L2 table → host cluster (or zeros, a compressed cluster, or the
 * backing file). Writes to a cluster that is not exclusively owned (COPIED flag clear:
 * unallocated, zero, compressed, or shared with a snapshot) copy it to a new cluster first;
 * the order is always data and refcounts first, then the L2 entry, then the L1 entry, then the
 * release of what was replaced — so a crash leaks clusters at worst, never points at garbage.
 * Metadata is written through (no write-back cache); `flush` is fsync.
 *
 * Corruption found while running (bad table offsets, allocations that would overwrite
 * metadata) makes the image unusable, as QEMU's `qcow2_signal_corruption` does, but pcvm
 * never writes the corrupt bit: a malformed image is never modified.
 *
 * Not implemented: lazy refcounts (a dirty image opens read-only only), extended L2 entries,
 * external data files, encryption, zstd compression, writing compressed clusters, resize.
 */

import { rmSync } from 'node:fs';
import { BlockError, type SnapshotCapableBackend, type SnapshotInfo, type BlockBackend } from '../block-backend.js';
import { HostFile } from '../host-file.js';
import { put32, put64 } from './bytes.js';
import { openBacking, canonicalPath } from './backing.js';
import { inflateCluster } from './compressed.js';
import {
  HDR_AUTOCLEAR, HDR_L1_SIZE, HDR_NB_SNAPSHOTS, QCOW_MAX_L1_SIZE, QCOW_MAX_SNAPSHOTS, readHeader, sizeToL1,
  validateTable, type Qcow2Header,
} from './header.js';
import {
  ClusterKind, FLAG_COPIED_HI, compressedClusters, decodeL2, entryFor, l1Offset, readEntry, writeEntry,
  type L2Entry,
} from './l2-entry.js';
import { Refcounts, type RefcountOwner } from './refcounts.js';
import { encodeSnapshotTable, readSnapshotTable, type SnapshotRecord } from './snapshot-table.js';

export interface Qcow2OpenOptions {
  readonly readOnly: boolean;
  /** `-drive cache=`: writethrough/directsync sync every write, unsafe ignores flushes. */
  readonly cache?: string;
  /** Name shown as `fileName` (defaults to the path). */
  readonly fileName?: string;
  /** A temporary file to delete on close (when it could not be unlinked right after opening). */
  readonly deleteOnClose?: string;
}

/** L2 tables kept in memory (written through, so dropping them is always safe). */
const L2_CACHE_LIMIT_BYTES = 32 << 20;

export class Qcow2Image implements SnapshotCapableBackend, RefcountOwner {
  readonly format = 'qcow2';
  readonly fileName: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly file: HostFile;
  readonly clusterBits: number;
  /** The backing image, if any (read-only). */
  readonly backing: BlockBackend | undefined;
  readonly header: Qcow2Header;

  private readonly cs: number;
  private readonly l2Entries: number;
  private l1: Uint8Array;
  private l1Size: number;
  private l1TableOffset: number;
  private readonly refcounts: Refcounts;
  private snapshots: SnapshotRecord[];
  private snapshotsOffset: number;
  private snapshotsBytes: number;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private l2CacheBytes = 0;
  private metadataClusters: Set<number> | undefined;
  private broken: string | undefined;
  private readonly writeThrough: boolean;
  private readonly ignoreFlush: boolean;
  private readonly deleteOnClose: string | undefined;

  private constructor(file: HostFile, fileName: string, opts: Qcow2OpenOptions, chain: readonly string[]) {
    this.file = file;
    this.fileName = fileName;
    this.readOnly = opts.readOnly;
    this.writeThrough = opts.cache === 'writethrough' || opts.cache === 'directsync';
    this.ignoreFlush = opts.cache === 'unsafe';
    this.deleteOnClose = opts.deleteOnClose;
    file.noFlush = this.ignoreFlush;
    const h = readHeader(file, opts.readOnly);
    this.header = h;
    this.clusterBits = h.clusterBits;
    this.cs = 2 ** h.clusterBits;
    this.l2Entries = this.cs / 8;
    this.sizeBytes = h.size;
    this.l1Size = h.l1Size;
    this.l1TableOffset = h.l1TableOffset;
    this.l1 = new Uint8Array(h.l1Size * 8);
    file.pread(h.l1TableOffset, this.l1);
    this.refcounts = new Refcounts(this, h.refcountOrder, h.refcountTableOffset, h.refcountTableClusters);
    this.snapshots = readSnapshotTable(file, h.snapshotsOffset, h.nbSnapshots, h.size);
    this.snapshotsOffset = h.snapshotsOffset;
    this.snapshotsBytes = encodeSnapshotTable(this.snapshots).length;
    if (h.backingFile !== undefined && h.backingFile !== '') {
      this.backing = openBacking(fileName, h.backingFile, h.backingFormat, chain, (f, name, next) =>
        new Qcow2Image(f, name, { readOnly: true }, next));
    }
    // Clear autoclear bits (dirty bitmaps…) pcvm does not maintain, as QEMU does for unknown ones.
    if (!this.readOnly && h.autoclearFeatures !== 0n) {
      file.pwrite(HDR_AUTOCLEAR, new Uint8Array(8));
      file.sync();
    }
  }

  /** Opens a qcow2 image file; throws BlockError with QEMU's wording when it cannot. */
  static open(path: string, opts: Qcow2OpenOptions): Qcow2Image {
    const file = HostFile.open(path, opts.readOnly);
    try {
      return Qcow2Image.fromHostFile(file, opts);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Opens an already open host file as qcow2 (the caller closes it on failure). */
  static fromHostFile(file: HostFile, opts: Qcow2OpenOptions): Qcow2Image {
    return new Qcow2Image(file, opts.fileName ?? file.path, opts, [canonicalPath(file.path)]);
  }

  // ---- errors -------------------------------------------------------------------------

  /** Marks the image unusable and throws (QEMU's qcow2_signal_corruption, without writing the corrupt bit). */
  corrupt(msg: string): never {
    this.broken ??= msg;
    throw new BlockError(`qcow2: image '${this.fileName}' is corrupt: ${msg}`);
  }

  private checkUsable(): void {
    if (this.file.closed) throw new BlockError(`'${this.fileName}' is closed`);
    if (this.broken) throw new BlockError(`qcow2: image '${this.fileName}' is corrupt: ${this.broken}`);
  }

  private checkWritable(): void {
    if (this.readOnly) throw new BlockError(`Block node is read-only: '${this.fileName}'`);
    this.checkUsable();
  }

  private checkRange(op: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
        offset + length > this.sizeBytes) {
      throw new BlockError(`${this.fileName}: ${op} of ${length} bytes at ${offset} is outside the ${this.sizeBytes}-byte disk`);
    }
  }

  // ---- metadata overlap ---------------------------------------------------------------

  /** Host clusters holding metadata (QEMU's default overlap checks, inactive L2 tables aside). */
  private metadata(): Set<number> {
    if (this.metadataClusters) return this.metadataClusters;
    const s = new Set<number>();
    const addRange = (off: number, len: number) => {
      if (len <= 0 || !Number.isFinite(off)) return;
      for (let c = Math.floor(off / this.cs); c <= Math.floor((off + len - 1) / this.cs); c++) s.add(c);
    };
    addRange(0, this.cs);
    addRange(this.l1TableOffset, this.l1Size * 8);
    addRange(this.refcounts.tableOffset, this.refcounts.tableClusters * this.cs);
    for (const off of this.refcounts.table) if (off > 0) addRange(off, this.cs);
    addRange(this.snapshotsOffset, this.snapshotsBytes);
    for (const sn of this.snapshots) addRange(sn.l1TableOffset, sn.l1Size * 8);
    for (let i = 0; i < this.l1Size; i++) {
      const off = l1Offset(...readEntry(this.l1, i));
      if (off !== 0) addRange(off, this.cs);
    }
    this.metadataClusters = s;
    return s;
  }

  checkFree(offset: number, length: number): void {
    const md = this.metadata();
    for (let c = Math.floor(offset / this.cs); c <= Math.floor((offset + length - 1) / this.cs); c++) {
      if (md.has(c)) {
        this.corrupt(`Preventing invalid write on metadata: cluster 0x${(c * this.cs).toString(16)} is free in the refcounts but holds metadata`);
      }
    }
  }

  metadataChanged(): void {
    this.metadataClusters = undefined;
  }

  // ---- L2 tables ----------------------------------------------------------------------

  /** Loads the L2 table at `off` (named by L1 entry `l1Index`), validating where it is. */
  private loadL2(off: number, l1Index: number): Uint8Array {
    let t = this.l2Cache.get(off);
    if (t) return t;
    if (!Number.isFinite(off) || off % this.cs !== 0) {
      this.corrupt(`L2 table offset 0x${Number.isFinite(off) ? off.toString(16) : '?'} unaligned (L1 index: 0x${l1Index.toString(16)})`);
    }
    if (off < this.cs) this.corrupt(`L2 table (L1 index 0x${l1Index.toString(16)}) points into the image header`);
    if (off + this.cs > this.file.size()) {
      this.corrupt(`L2 table at 0x${off.toString(16)} (L1 index 0x${l1Index.toString(16)}) lies beyond the end of the file`);
    }
    const l1End = this.l1TableOffset + this.l1Size * 8;
    const rtEnd = this.refcounts.tableOffset + this.refcounts.tableClusters * this.cs;
    if ((off < l1End && off + this.cs > this.l1TableOffset) || (off < rtEnd && off + this.cs > this.refcounts.tableOffset)) {
      this.corrupt(`L2 table at 0x${off.toString(16)} (L1 index 0x${l1Index.toString(16)}) overlaps the L1 or refcount table`);
    }
    if (this.l2CacheBytes > L2_CACHE_LIMIT_BYTES) {
      this.l2Cache.clear();
      this.l2CacheBytes = 0;
    }
    t = new Uint8Array(this.cs);
    this.file.pread(off, t);
    this.l2Cache.set(off, t);
    this.l2CacheBytes += this.cs;
    return t;
  }

  /** The L2 entry for guest cluster `gc` through the L1 table `l1` (undefined: no L2 table). */
  private lookup(l1: Uint8Array, gc: number): L2Entry | undefined {
    const l1i = Math.floor(gc / this.l2Entries);
    if (l1i * 8 >= l1.length) return undefined;
    const off = l1Offset(...readEntry(l1, l1i));
    if (off === 0) return undefined;
    const t = this.loadL2(off, l1i);
    return decodeL2(...readEntry(t, gc % this.l2Entries), this.clusterBits);
  }

  // ---- reading ------------------------------------------------------------------------

  read(offset: number, buf: Uint8Array): void {
    this.checkUsable();
    this.checkRange('read', offset, buf.length);
    this.readVia(this.l1, offset, buf, true);
  }

  /** Reads guest bytes through L1 table `l1`; unallocated clusters come from the backing file when `useBacking`. */
  private readVia(l1: Uint8Array, offset: number, buf: Uint8Array, useBacking: boolean): void {
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      const gc = Math.floor(pos / this.cs);
      const inCluster = pos % this.cs;
      const n = Math.min(this.cs - inCluster, buf.length - done);
      const out = buf.subarray(done, done + n);
      const e = this.lookup(l1, gc);
      this.readCluster(e, pos, inCluster, out, useBacking);
      done += n;
    }
  }

  private readCluster(e: L2Entry | undefined, pos: number, inCluster: number, out: Uint8Array, useBacking: boolean): void {
    const kind = e?.kind ?? ClusterKind.Unallocated;
    switch (kind) {
      case ClusterKind.Unallocated:
        if (useBacking && this.backing && pos < this.backing.sizeBytes) {
          const n = Math.min(out.length, this.backing.sizeBytes - pos);
          this.backing.read(pos, out.subarray(0, n));
          out.fill(0, n);
        } else {
          out.fill(0);
        }
        return;
      case ClusterKind.Zero:
        out.fill(0);
        return;
      case ClusterKind.Normal:
        this.file.pread(this.dataOffset(e!) + inCluster, out);
        return;
      case ClusterKind.Compressed:
        out.set(this.inflate(e!).subarray(inCluster, inCluster + out.length));
        return;
    }
  }

  private dataOffset(e: L2Entry): number {
    if (!Number.isFinite(e.hostOffset) || e.hostOffset % this.cs !== 0) {
      this.corrupt(`Cluster allocation offset 0x${Number.isFinite(e.hostOffset) ? e.hostOffset.toString(16) : '?'} unaligned`);
    }
    if (e.hostOffset < this.cs) this.corrupt('a data cluster points into the image header');
    if (e.hostOffset >= this.file.size()) this.corrupt(`data cluster 0x${e.hostOffset.toString(16)} lies beyond the end of the file`);
    return e.hostOffset;
  }

  private inflate(e: L2Entry): Uint8Array {
    if (e.hostOffset < this.cs || e.hostOffset + e.compressedLength > this.file.size() + 2 * this.cs) {
      this.corrupt(`compressed cluster at 0x${e.hostOffset.toString(16)} lies outside the file`);
    }
    const data = new Uint8Array(e.compressedLength);
    this.file.pread(e.hostOffset, data);
    try {
      return inflateCluster(data, this.cs, this.header.compressionType);
    } catch (err) {
      if (this.header.compressionType !== 0) throw err;
      return this.corrupt((err as Error).message);
    }
  }

  /** The whole current content of guest cluster `gc` (for copy-on-write). */
  private clusterContent(e: L2Entry | undefined, gc: number): Uint8Array {
    const b = new Uint8Array(this.cs);
    this.readCluster(e, gc * this.cs, 0, b, true);
    return b;
  }

  // ---- writing ------------------------------------------------------------------------

  write(offset: number, data: Uint8Array): void {
    this.checkWritable();
    this.checkRange('write', offset, data.length);
    this.writeVia(offset, data);
    if (this.writeThrough) this.file.sync();
  }

  /** Writes through the active L1 (also beyond the disk end, for the VM state area). */
  private writeVia(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const gc = Math.floor(pos / this.cs);
      const inCluster = pos % this.cs;
      const n = Math.min(this.cs - inCluster, data.length - done);
      this.writeCluster(gc, inCluster, data.subarray(done, done + n));
      done += n;
    }
  }

  private writeCluster(gc: number, inCluster: number, chunk: Uint8Array): void {
    const [l2Off, table] = this.writableL2(Math.floor(gc / this.l2Entries));
    const idx = gc % this.l2Entries;
    const e = decodeL2(...readEntry(table, idx), this.clusterBits);
    if (e.kind === ClusterKind.Normal && e.copied) {
      const host = this.dataOffset(e);
      if (this.metadata().has(host / this.cs)) this.corrupt(`data cluster 0x${host.toString(16)} overlaps metadata`);
      this.file.pwrite(host + inCluster, chunk);
      return;
    }
    // Copy-on-write: the new cluster holds the old content merged with the chunk.
    let content: Uint8Array;
    if (chunk.length === this.cs) {
      content = chunk;
    } else {
      content = this.clusterContent(e, gc);
      content.set(chunk, inCluster);
    }
    if (e.kind === ClusterKind.Zero && e.copied && e.hostOffset !== 0) {
      // A preallocated zero cluster we own: fill it in place, then drop the zero flag.
      const host = this.dataOffset(e);
      if (this.metadata().has(host / this.cs)) this.corrupt(`data cluster 0x${host.toString(16)} overlaps metadata`);
      this.file.pwrite(host, content);
      this.setL2(l2Off, table, idx, ...entryFor(host, true));
      return;
    }
    const host = this.refcounts.alloc(1);
    this.file.pwrite(host, content);
    this.setL2(l2Off, table, idx, ...entryFor(host, true));
    this.release(e);
  }

  /** Drops the reference an L2 entry held (after the entry no longer points there). */
  private release(e: L2Entry): void {
    if (e.kind === ClusterKind.Normal || (e.kind === ClusterKind.Zero && e.hostOffset !== 0)) {
      this.refcounts.free(e.hostOffset, this.cs);
    } else if (e.kind === ClusterKind.Compressed) {
      const [first, last] = compressedClusters(e, this.clusterBits);
      this.refcounts.free(first * this.cs, (last - first + 1) * this.cs);
    }
  }

  private setL2(l2Off: number, table: Uint8Array, idx: number, hi: number, lo: number): void {
    writeEntry(table, idx, hi, lo);
    this.file.pwrite(l2Off + idx * 8, table.subarray(idx * 8, idx * 8 + 8));
  }

  private setL1(i: number, hi: number, lo: number): void {
    writeEntry(this.l1, i, hi, lo);
    this.file.pwrite(this.l1TableOffset + i * 8, this.l1.subarray(i * 8, i * 8 + 8));
    this.metadataChanged();
  }

  /**
   * The L2 table for L1 index `l1i`, owned by the active L1 alone: a missing table is
   * allocated (zeroed), a shared one (COPIED clear) copied; the L1 grows when needed.
   */
  private writableL2(l1i: number): [number, Uint8Array] {
    if (l1i >= this.l1Size) this.growL1(l1i + 1);
    const [hi, lo] = readEntry(this.l1, l1i);
    const off = l1Offset(hi, lo);
    if (off !== 0 && hi & FLAG_COPIED_HI) return [off, this.loadL2(off, l1i)];
    const old = off !== 0 ? this.loadL2(off, l1i) : undefined;
    const newOff = this.refcounts.alloc(1);
    const t = old ? old.slice() : new Uint8Array(this.cs);
    this.file.pwrite(newOff, t);
    this.l2Cache.set(newOff, t);
    this.l2CacheBytes += this.cs;
    this.setL1(l1i, ...entryFor(newOff, true));
    if (off !== 0) this.freeClusters(off, this.cs);
    return [newOff, t];
  }

  /** Drops a reference to clusters and forgets cached tables there. */
  private freeClusters(off: number, len: number): void {
    this.refcounts.free(off, len);
    for (let c = Math.floor(off / this.cs); c <= Math.floor((off + len - 1) / this.cs); c++) {
      if (this.refcounts.get(c) === 0 && this.l2Cache.delete(c * this.cs)) this.l2CacheBytes -= this.cs;
    }
    this.metadataChanged();
  }

  /** Grows the active L1 table to at least `minSize` entries (QEMU's qcow2_grow_l1_table). */
  private growL1(minSize: number): void {
    let newSize = Math.max(this.l1Size, 1);
    while (newSize < minSize) newSize = Math.floor((newSize * 3 + 1) / 2);
    if (newSize * 8 > QCOW_MAX_L1_SIZE) throw new BlockError('qcow2: the L1 table would grow beyond the 32 MiB limit');
    const clusters = Math.ceil((newSize * 8) / this.cs);
    const newOff = this.refcounts.alloc(clusters);
    const t = new Uint8Array(clusters * this.cs);
    t.set(this.l1);
    this.file.pwrite(newOff, t);
    this.file.sync();
    const hdr = new Uint8Array(12);
    put32(hdr, 0, newSize);
    put64(hdr, 4, newOff);
    this.file.pwrite(HDR_L1_SIZE, hdr);
    this.file.sync();
    const oldOff = this.l1TableOffset;
    const oldSize = this.l1Size;
    this.l1 = t.subarray(0, newSize * 8);
    this.l1Size = newSize;
    this.l1TableOffset = newOff;
    this.metadataChanged();
    if (oldSize > 0) this.freeClusters(oldOff, oldSize * 8);
  }

  flush(): void {
    this.checkUsable();
    if (!this.ignoreFlush && !this.readOnly) this.file.sync();
  }

  /**
   * Deallocates whole clusters in the range (partial clusters are left alone: discard is
   * advisory). Version 3 marks them zero so the backing file does not show through; version 2
   * has no zero flag and unmaps them.
   */
  discard(offset: number, length: number): void {
    this.checkWritable();
    this.checkRange('discard', offset, length);
    this.unmapClusters(Math.ceil(offset / this.cs), Math.floor((offset + length) / this.cs), this.header.version === 3);
  }

  writeZeroes(offset: number, length: number): void {
    this.checkWritable();
    this.checkRange('write-zeroes', offset, length);
    const first = Math.ceil(offset / this.cs);
    const last = Math.floor((offset + length) / this.cs);
    const canFlag = this.header.version === 3 || !this.backing;
    const zeroPart = (from: number, to: number) => {
      for (let p = from; p < to; p += this.cs) this.writeVia(p, new Uint8Array(Math.min(this.cs, to - p)));
    };
    if (!canFlag || first >= last) {
      zeroPart(offset, offset + length);
    } else {
      zeroPart(offset, first * this.cs);
      this.unmapClusters(first, last, this.header.version === 3);
      zeroPart(last * this.cs, offset + length);
    }
    if (this.writeThrough) this.file.sync();
  }

  /** Points guest clusters [first, last) at nothing (or zeros) and releases what they held. */
  private unmapClusters(first: number, last: number, asZero: boolean): void {
    for (let gc = first; gc < last; gc++) {
      const cur = this.lookup(this.l1, gc);
      if (!cur || cur.kind === ClusterKind.Unallocated) {
        if (!asZero || !this.backing) continue;
      } else if (cur.kind === ClusterKind.Zero && cur.hostOffset === 0) {
        continue;
      }
      const [l2Off, table] = this.writableL2(Math.floor(gc / this.l2Entries));
      const idx = gc % this.l2Entries;
      const e = decodeL2(...readEntry(table, idx), this.clusterBits);
      this.setL2(l2Off, table, idx, 0, asZero ? 1 : 0);
      this.release(e);
    }
  }

  close(): void {
    if (this.file.closed) return;
    try {
      if (!this.readOnly && !this.ignoreFlush && !this.broken) this.file.sync();
    } finally {
      this.file.close();
      this.backing?.close();
      if (this.deleteOnClose !== undefined) rmSync(this.deleteOnClose, { force: true });
    }
  }

  // ---- internal snapshots -------------------------------------------------------------

  /** Guest offset of the VM state area: the first L1 entry after the disk (qcow2_vm_state_offset). */
  private vmStateOffset(): number {
    return sizeToL1(this.sizeBytes, this.clusterBits) * 2 ** (2 * this.clusterBits - 3);
  }

  listSnapshots(): SnapshotInfo[] {
    this.checkUsable();
    return this.snapshots.map((s) => ({
      id: s.id, name: s.name, vmStateSize: s.vmStateSize, dateSec: s.dateSec, dateNsec: s.dateNsec,
      vmClockNs: s.vmClockNs, icount: s.icount,
    }));
  }

  /** QEMU's find_snapshot_by_id_or_name: an id match first, then a name match. */
  private find(nameOrId: string): SnapshotRecord {
    const sn = this.snapshots.find((s) => s.id === nameOrId) ?? this.snapshots.find((s) => s.name === nameOrId);
    if (!sn) throw new BlockError(`Can't find snapshot '${nameOrId}' in '${this.fileName}'`);
    return sn;
  }

  /** A snapshot's L1 table, validated as QEMU does before use. */
  private snapshotL1(sn: SnapshotRecord): Uint8Array {
    try {
      validateTable(sn.l1TableOffset, sn.l1Size, 8, QCOW_MAX_L1_SIZE, 'Snapshot L1 table', this.cs, this.file.size());
    } catch (err) {
      throw new BlockError(`Snapshot '${sn.name}': ${(err as Error).message}`);
    }
    const t = new Uint8Array(sn.l1Size * 8);
    this.file.pread(sn.l1TableOffset, t);
    return t;
  }

  /**
   * Refcount changes for everything an L1 table references (its L2 tables and, through each,
   * their data clusters — qcow2 counts one reference per path, as QEMU's
   * qcow2_update_snapshot_refcount does).
   */
  private referencesOf(l1: Uint8Array, addend: number, into = new Map<number, number>()): Map<number, number> {
    const add = (c: number) => into.set(c, (into.get(c) ?? 0) + addend);
    for (let i = 0; i < l1.length / 8; i++) {
      const off = l1Offset(...readEntry(l1, i));
      if (off === 0) continue;
      const t = this.loadL2(off, i);
      add(off / this.cs);
      for (let j = 0; j < this.l2Entries; j++) {
        const e = decodeL2(...readEntry(t, j), this.clusterBits);
        if (e.kind === ClusterKind.Normal || (e.kind === ClusterKind.Zero && e.hostOffset !== 0)) {
          add(this.dataOffset(e) / this.cs);
        } else if (e.kind === ClusterKind.Compressed) {
          const [first, last] = compressedClusters(e, this.clusterBits);
          for (let c = first; c <= last; c++) add(c);
        }
      }
    }
    return into;
  }

  /** Sets every COPIED flag reachable from the active L1 to "refcount is exactly one". */
  private refreshCopiedFlags(): void {
    let l1Dirty = false;
    for (let i = 0; i < this.l1Size; i++) {
      const [hi, lo] = readEntry(this.l1, i);
      const off = l1Offset(hi, lo);
      if (off === 0) continue;
      const t = this.loadL2(off, i);
      let dirty = false;
      for (let j = 0; j < this.l2Entries; j++) {
        const [ehi, elo] = readEntry(t, j);
        const e = decodeL2(ehi, elo, this.clusterBits);
        if (e.kind !== ClusterKind.Normal && !(e.kind === ClusterKind.Zero && e.hostOffset !== 0)) continue;
        const want = this.refcounts.get(e.hostOffset / this.cs) === 1;
        if (want !== e.copied) {
          writeEntry(t, j, want ? (ehi | FLAG_COPIED_HI) >>> 0 : ehi & ~FLAG_COPIED_HI, elo);
          dirty = true;
        }
      }
      if (dirty) this.file.pwrite(off, t);
      const want = this.refcounts.get(off / this.cs) === 1;
      if (want !== ((hi & FLAG_COPIED_HI) !== 0)) {
        writeEntry(this.l1, i, want ? (hi | FLAG_COPIED_HI) >>> 0 : hi & ~FLAG_COPIED_HI, lo);
        l1Dirty = true;
      }
    }
    if (l1Dirty) this.file.pwrite(this.l1TableOffset, this.l1);
  }

  /** Writes a new snapshot table, points the header at it (after a sync), frees the old one. */
  private writeSnapshotTable(list: SnapshotRecord[]): void {
    const bytes = encodeSnapshotTable(list);
    let newOff = 0;
    if (bytes.length > 0) {
      newOff = this.refcounts.alloc(Math.ceil(bytes.length / this.cs));
      this.file.pwrite(newOff, bytes);
      this.file.sync();
    }
    const hdr = new Uint8Array(12);
    put32(hdr, 0, list.length);
    put64(hdr, 4, newOff);
    this.file.pwrite(HDR_NB_SNAPSHOTS, hdr);
    this.file.sync();
    const oldOff = this.snapshotsOffset;
    const oldBytes = this.snapshotsBytes;
    this.snapshots = list;
    this.snapshotsOffset = newOff;
    this.snapshotsBytes = bytes.length;
    this.metadataChanged();
    if (oldBytes > 0) this.freeClusters(oldOff, oldBytes);
  }

  createSnapshot(info: Omit<SnapshotInfo, 'id' | 'vmStateSize'>, vmState: Uint8Array): SnapshotInfo {
    this.checkWritable();
    for (const [k, v] of [['dateSec', info.dateSec], ['dateNsec', info.dateNsec]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new BlockError(`snapshot ${k} out of range: ${v}`);
    }
    if (!Number.isSafeInteger(info.vmClockNs) || info.vmClockNs < 0) throw new BlockError(`snapshot vmClockNs out of range: ${info.vmClockNs}`);
    if (!Number.isSafeInteger(info.icount) || info.icount < -1) throw new BlockError(`snapshot icount out of range: ${info.icount}`);
    if (Buffer.byteLength(info.name, 'utf8') > 0xffff) throw new BlockError('Snapshot name too long');
    // savevm replaces a snapshot of the same name.
    const same = this.snapshots.find((s) => s.name === info.name);
    if (same) this.deleteSnapshot(same.id);
    if (this.snapshots.length >= QCOW_MAX_SNAPSHOTS) throw new BlockError('qcow2: too many snapshots (the maximum is 65536)');

    // Refuse before writing anything if one more reference would overflow a refcount.
    if (this.refcounts.maxRefcount < 2) throw new BlockError('qcow2: internal snapshots need refcounts wider than 1 bit');
    this.refcounts.validate(this.referencesOf(this.l1, 1));

    // 1. The VM state goes into the active image's VM state area.
    if (vmState.length > 0) this.writeVia(this.vmStateOffset(), vmState);

    // 2. A copy of the active L1 (COPIED flags clear: nothing it references is exclusive any more).
    const l1Clusters = Math.ceil((this.l1Size * 8) / this.cs);
    const snL1Off = l1Clusters > 0 ? this.refcounts.alloc(l1Clusters) : 0;
    const copy = new Uint8Array(l1Clusters * this.cs);
    for (let i = 0; i < this.l1Size; i++) {
      const [hi, lo] = readEntry(this.l1, i);
      writeEntry(copy, i, hi & ~FLAG_COPIED_HI, lo);
    }
    if (l1Clusters > 0) this.file.pwrite(snL1Off, copy);

    // 3. One more reference to everything, then the active COPIED flags follow.
    this.refcounts.change(this.referencesOf(this.l1, 1));
    this.refreshCopiedFlags();
    this.file.sync();

    // 4. The table entry.
    let maxId = 0;
    for (const s of this.snapshots) {
      const n = /^\d+$/.test(s.id) ? Number(s.id) : 0;
      if (n > maxId) maxId = n;
    }
    const rec: SnapshotRecord = {
      l1TableOffset: snL1Off, l1Size: this.l1Size, id: String(maxId + 1), name: info.name,
      dateSec: info.dateSec, dateNsec: info.dateNsec, vmClockNs: info.vmClockNs, vmStateSize: vmState.length,
      diskSize: this.sizeBytes, icount: info.icount, unknownExtra: new Uint8Array(0),
    };
    this.writeSnapshotTable([...this.snapshots, rec]);

    // 5. The VM state is no longer needed in the active L1 (QEMU discards it likewise).
    if (vmState.length > 0) {
      const first = this.vmStateOffset() / this.cs;
      this.unmapClusters(first, first + Math.ceil(vmState.length / this.cs), false);
    }
    this.file.sync();
    return { id: rec.id, name: rec.name, vmStateSize: rec.vmStateSize, dateSec: rec.dateSec, dateNsec: rec.dateNsec, vmClockNs: rec.vmClockNs, icount: rec.icount };
  }

  readVmState(nameOrId: string): Uint8Array {
    this.checkUsable();
    const sn = this.find(nameOrId);
    if (sn.vmStateSize > 0x7fff_ffff) throw new BlockError(`Snapshot '${sn.name}': VM state of ${sn.vmStateSize} bytes is too large`);
    const l1 = this.snapshotL1(sn);
    const out = new Uint8Array(sn.vmStateSize);
    const start = this.vmStateOffset();
    // The state must lie in the snapshot's L1 range.
    if (sn.vmStateSize > 0 && Math.ceil((start + sn.vmStateSize) / (this.cs * this.l2Entries)) > sn.l1Size) {
      throw new BlockError(`Snapshot '${sn.name}': its L1 table does not cover its VM state`);
    }
    this.readVia(l1, start, out, false);
    return out;
  }

  applySnapshot(nameOrId: string): void {
    this.checkWritable();
    const sn = this.find(nameOrId);
    if (sn.diskSize !== this.sizeBytes) {
      throw new BlockError('qcow2: Loading snapshots with different disk size is not supported');
    }
    const snL1 = this.snapshotL1(sn);
    const increments = this.referencesOf(snL1, 1); // validates every table before anything changes
    const decrements = this.referencesOf(this.l1, -1);
    if (sn.l1Size > this.l1Size) this.growL1(sn.l1Size);
    this.refcounts.change(increments);
    const next = new Uint8Array(this.l1Size * 8);
    next.set(snL1.subarray(0, Math.min(snL1.length, next.length)));
    this.l1.set(next);
    this.file.pwrite(this.l1TableOffset, this.l1);
    this.file.sync();
    this.metadataChanged();
    this.refcounts.change(decrements);
    this.dropFreedL2(decrements);
    this.refreshCopiedFlags();
    this.file.sync();
  }

  deleteSnapshot(nameOrId: string): void {
    this.checkWritable();
    const sn = this.find(nameOrId);
    const snL1 = this.snapshotL1(sn);
    const decrements = this.referencesOf(snL1, -1);
    this.writeSnapshotTable(this.snapshots.filter((s) => s !== sn));
    this.refcounts.change(decrements);
    this.dropFreedL2(decrements);
    if (sn.l1Size > 0) this.freeClusters(sn.l1TableOffset, sn.l1Size * 8);
    this.refreshCopiedFlags();
    this.file.sync();
  }

  /** Forgets cached L2 tables whose clusters were freed. */
  private dropFreedL2(changes: ReadonlyMap<number, number>): void {
    for (const c of changes.keys()) {
      if (this.l2Cache.has(c * this.cs) && this.refcounts.get(c) === 0) {
        this.l2Cache.delete(c * this.cs);
        this.l2CacheBytes -= this.cs;
      }
    }
    this.metadataChanged();
  }
}

