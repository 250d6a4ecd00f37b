/**
 * qcow2 reference counts (qcow2.txt "Cluster refcounts"): a refcount table of refcount block
 * offsets, each block an array of 2^refcount_order-bit counts, one per host cluster. Every
 * width (1 to 64 bits) is read and written; 64-bit counts are exact up to 2^53.
 *
 * Allocation is ordered so that a crash leaks at worst: a cluster's refcount is written before
 * any pointer to the cluster, a new refcount block is written before the table entry that
 * points at it, and a grown refcount table (placed at the end of the file together with the
 * refcount blocks that cover it, as QEMU's `qcow2_refcount_area` does) is written and synced
 * before the header points at it.
 *
 * Every cluster handed out is first checked against the image's metadata (`checkFree`), so a
 * corrupt refcount that says "free" for a table never leads to overwriting it (QEMU's
 * pre-write overlap check).
 */

import { BlockError } from '../block-backend.js';
import type { HostFile } from '../host-file.js';
import { be32, put32, put64, u64Bytes } from './bytes.js';
import { HDR_REFCOUNT_TABLE_OFFSET } from './header.js';

export interface RefcountOwner {
  readonly file: HostFile;
  readonly clusterBits: number;
  /** Throws BlockError (marking the image broken) when a cluster range overlaps metadata. */
  checkFree(offset: number, length: number): void;
  /** Raises a corruption error (the image becomes unusable for writes). */
  corrupt(msg: string): never;
  /** New metadata clusters (refcount blocks, table) exist. */
  metadataChanged(): void;
}

/** Refcount blocks kept in memory before the cache is dropped (all blocks are written through). */
const CACHE_LIMIT_BYTES = 32 << 20;
/** Highest host offset pcvm allocates (QEMU's limit is 2^56; JS numbers are exact to 2^53). */
const MAX_HOST_OFFSET = 2 ** 52;

export class Refcounts {
  /** Host offsets of the refcount blocks (0 = none). */
  table: number[];
  tableOffset: number;
  tableClusters: number;
  private readonly cache = new Map<number, Uint8Array>();
  private cacheBytes = 0;
  /** Lowest cluster index that may be free. */
  private freeHint = 0;
  readonly order: number;
  readonly maxRefcount: number;
  /** log2 of the number of entries per refcount block. */
  readonly blockBits: number;
  private readonly cs: number;

  constructor(private readonly owner: RefcountOwner, order: number, tableOffset: number, tableClusters: number) {
    this.order = order;
    this.cs = 2 ** owner.clusterBits;
    this.blockBits = owner.clusterBits + 3 - order;
    this.maxRefcount = order === 6 ? Number.MAX_SAFE_INTEGER : 2 ** (2 ** order) - 1;
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    const raw = new Uint8Array(tableClusters * this.cs);
    owner.file.pread(tableOffset, raw);
    this.table = [];
    for (let i = 0; i < raw.length; i += 8) {
      const hi = be32(raw, i);
      const lo = be32(raw, i + 4) & ~0x1ff;
      if (hi >= 0x20_0000) {
        this.table.push(-1); // out of range: reported when used
      } else {
        this.table.push(hi * 0x1_0000_0000 + (lo >>> 0));
      }
    }
  }

  private blockOffset(index: number): number {
    const off = this.table[index] ?? 0;
    if (off === 0) return 0;
    if (off < 0 || off % this.cs !== 0) {
      this.owner.corrupt(`Refblock offset 0x${off < 0 ? '?' : off.toString(16)} unaligned (reftable index: 0x${index.toString(16)})`);
    }
    if (off + this.cs > this.owner.file.size()) {
      this.owner.corrupt(`Refblock at offset 0x${off.toString(16)} (reftable index: 0x${index.toString(16)}) lies beyond the end of the file`);
    }
    return off;
  }

  private loadBlock(off: number): Uint8Array {
    let b = this.cache.get(off);
    if (!b) {
      if (this.cacheBytes > CACHE_LIMIT_BYTES) {
        this.cache.clear();
        this.cacheBytes = 0;
      }
      b = new Uint8Array(this.cs);
      this.owner.file.pread(off, b);
      this.cache.set(off, b);
      this.cacheBytes += this.cs;
    }
    return b;
  }

  private static entryGet(b: Uint8Array, i: number, order: number): number {
    switch (order) {
      case 0: case 1: case 2: {
        const perByte = 8 >> order;
        return (b[Math.floor(i / perByte)]! >> ((i % perByte) << order)) & ((1 << (1 << order)) - 1);
      }
      case 3: return b[i]!;
      case 4: return (b[2 * i]! << 8) | b[2 * i + 1]!;
      case 5: return be32(b, 4 * i);
      default: {
        const hi = be32(b, 8 * i);
        return hi >= 0x20_0000 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + be32(b, 8 * i + 4);
      }
    }
  }

  /** Sets entry `i` in block `b`; returns the byte range touched. */
  private static entrySet(b: Uint8Array, i: number, order: number, v: number): [number, number] {
    switch (order) {
      case 0: case 1: case 2: {
        const perByte = 8 >> order;
        const byte = Math.floor(i / perByte);
        const shift = (i % perByte) << order;
        const mask = ((1 << (1 << order)) - 1) << shift;
        b[byte] = (b[byte]! & ~mask) | ((v << shift) & mask);
        return [byte, 1];
      }
      case 3: b[i] = v; return [i, 1];
      case 4: b[2 * i] = v >>> 8; b[2 * i + 1] = v; return [2 * i, 2];
      case 5: put32(b, 4 * i, v); return [4 * i, 4];
      default: put64(b, 8 * i, v); return [8 * i, 8];
    }
  }

  /** Refcount of the cluster with index `cluster` (0 when no block covers it). */
  get(cluster: number): number {
    const index = Math.floor(cluster / 2 ** this.blockBits);
    if (index >= this.table.length) return 0;
    const off = this.blockOffset(index);
    if (off === 0) return 0;
    return Refcounts.entryGet(this.loadBlock(off), cluster % 2 ** this.blockBits, this.order);
  }

  /**
   * Applies refcount changes (cluster index → delta) after checking that none underflows or
   * overflows, so a failure changes nothing. Each touched block is written once.
   */
  change(deltas: ReadonlyMap<number, number>, avoid?: [number, number]): void {
    const updates = this.validate(deltas);
    this.apply(updates, avoid);
  }

  /** Throws (changing nothing) if applying `deltas` would underflow or overflow a refcount. */
  validate(deltas: ReadonlyMap<number, number>): [number, number][] {
    const updates: [number, number][] = [];
    for (const [cluster, delta] of deltas) {
      if (delta === 0) continue;
      const now = this.get(cluster);
      const next = now + delta;
      if (next < 0) this.owner.corrupt(`Refcount of cluster 0x${cluster.toString(16)} would drop below zero (it is ${now})`);
      if (next > this.maxRefcount) {
        throw new BlockError(`Refcount overflow: cluster 0x${(cluster * this.cs).toString(16)} already has ${now} references (the maximum is ${this.maxRefcount})`);
      }
      updates.push([cluster, next]);
    }
    return updates;
  }

  private apply(updates: readonly [number, number][], avoid: [number, number] | undefined): void {
    const dirty = new Map<number, [number, number]>();
    for (const [cluster, value] of updates) {
      const [off, lo, len] = this.setInBlock(cluster, value, avoid ?? [cluster, cluster + 1]);
      const r = dirty.get(off);
      dirty.set(off, r ? [Math.min(r[0], lo), Math.max(r[1], lo + len)] : [lo, lo + len]);
      if (value === 0 && cluster < this.freeHint) this.freeHint = cluster;
    }
    for (const [off, [lo, hi]] of dirty) this.owner.file.pwrite(off + lo, this.loadBlock(off).subarray(lo, hi));
  }

  /** Sets one refcount in its (possibly new) block; returns block offset and byte range. */
  private setInBlock(cluster: number, value: number, avoid: [number, number]): [number, number, number] {
    const index = Math.floor(cluster / 2 ** this.blockBits);
    if (index >= this.table.length) this.growTable(index, avoid);
    let off = this.blockOffset(index);
    if (off === 0) off = this.createBlock(index, avoid);
    const [lo, len] = Refcounts.entrySet(this.loadBlock(off), cluster % 2 ** this.blockBits, this.order, value);
    return [off, lo, len];
  }

  /**
   * A new refcount block for table entry `index`, placed in the range it covers (all of
   * which is free, since no block counts it) outside `avoid`, counting itself.
   */
  private createBlock(index: number, avoid: [number, number]): number {
    const per = 2 ** this.blockBits;
    const first = index * per;
    let c = first;
    while (c >= avoid[0] && c < avoid[1]) c++;
    if (c >= first + per) throw new BlockError('qcow2: no room for a refcount block');
    const off = c * this.cs;
    if (off >= MAX_HOST_OFFSET) throw new BlockError('qcow2: image file would grow beyond the supported size');
    this.owner.checkFree(off, this.cs);
    const block = new Uint8Array(this.cs);
    Refcounts.entrySet(block, c - first, this.order, 1);
    this.owner.file.pwrite(off, block);
    this.cache.set(off, block);
    this.cacheBytes += this.cs;
    this.owner.file.pwrite(this.tableOffset + index * 8, u64Bytes(off));
    this.table[index] = off;
    this.owner.metadataChanged();
    return off;
  }

  /**
   * Grows the refcount table to cover block index `minIndex`: a new table and the refcount
   * blocks for its own clusters go at the end of the file; the header is switched over after
   * they are synced; the old table is freed last.
   */
  private growTable(minIndex: number, avoid: [number, number]): void {
    const per = 2 ** this.blockBits;
    const entriesPerCluster = this.cs / 8;
    let start = Math.max(Math.ceil(this.owner.file.size() / this.cs), avoid[1]);
    for (;;) {
      // Skip clusters past EOF that a (corrupt) refcount still claims.
      while (this.get(start) !== 0) start++;
      let tableClusters = Math.ceil(Math.max(minIndex + 1, Math.ceil(this.table.length * 1.5)) / entriesPerCluster);
      let newBlocks: number[] = [];
      for (let iter = 0; iter < 16; iter++) {
        const total = newBlocks.length + tableClusters;
        const ranges = new Set<number>();
        for (let c = start; c < start + total; c++) ranges.add(Math.floor(c / per));
        newBlocks = [...ranges].filter((r) => r >= this.table.length || (this.table[r] ?? 0) === 0);
        const needEntries = Math.max(minIndex + 1, ...ranges) + 1;
        const needClusters = Math.ceil(needEntries / entriesPerCluster);
        if (needClusters > tableClusters) { tableClusters = needClusters; continue; }
        const total2 = newBlocks.length + tableClusters;
        const ranges2 = new Set<number>();
        for (let c = start; c < start + total2; c++) ranges2.add(Math.floor(c / per));
        const missing2 = [...ranges2].filter((r) => r >= this.table.length || (this.table[r] ?? 0) === 0);
        if (missing2.length === newBlocks.length) break;
      }
      if (tableClusters * this.cs > 8 << 20) throw new BlockError('Reference count table too large');
      const areaClusters = newBlocks.length + tableClusters;
      if ((start + areaClusters) * this.cs >= MAX_HOST_OFFSET) throw new BlockError('qcow2: image file would grow beyond the supported size');
      let clash = false;
      for (let c = start; c < start + areaClusters; c++) if (this.get(c) !== 0) { clash = true; start = c + 1; break; }
      if (clash) continue;
      this.owner.checkFree(start * this.cs, areaClusters * this.cs);

      const blockAt = new Map<number, number>(); // range → cluster index of its new block
      newBlocks.forEach((r, i) => blockAt.set(r, start + i));
      const tableStart = start + newBlocks.length;
      // New blocks, each counting the area clusters in its range.
      for (const [r, c] of blockAt) {
        const block = new Uint8Array(this.cs);
        for (let a = start; a < start + areaClusters; a++) {
          if (Math.floor(a / per) === r) Refcounts.entrySet(block, a - r * per, this.order, 1);
        }
        this.owner.file.pwrite(c * this.cs, block);
        this.cache.set(c * this.cs, block);
        this.cacheBytes += this.cs;
      }
      // Area clusters in ranges that already have a block.
      const existing = new Map<number, number>();
      for (let a = start; a < start + areaClusters; a++) if (!blockAt.has(Math.floor(a / per))) existing.set(a, 1);
      const newTable = this.table.slice();
      while (newTable.length < tableClusters * entriesPerCluster) newTable.push(0);
      for (const [r, c] of blockAt) newTable[r] = c * this.cs;
      const raw = new Uint8Array(tableClusters * this.cs);
      newTable.forEach((off, i) => put64(raw, i * 8, Math.max(off, 0)));
      this.owner.file.pwrite(tableStart * this.cs, raw);
      if (existing.size) this.change(existing);
      this.owner.file.sync();
      const hdr = new Uint8Array(12);
      put64(hdr, 0, tableStart * this.cs);
      put32(hdr, 8, tableClusters);
      this.owner.file.pwrite(HDR_REFCOUNT_TABLE_OFFSET, hdr);
      this.owner.file.sync();
      const oldOffset = this.tableOffset;
      const oldClusters = this.tableClusters;
      this.table = newTable;
      this.tableOffset = tableStart * this.cs;
      this.tableClusters = tableClusters;
      this.owner.metadataChanged();
      this.free(oldOffset, oldClusters * this.cs);
      return;
    }
  }

  /**
   * Allocates `n` contiguous free clusters (refcount 1 each, written before the caller can
   * point at them) and returns the host offset of the first.
   */
  alloc(n: number): number {
    const per = 2 ** this.blockBits;
    let start = Math.max(this.freeHint, 1);
    let run = 0;
    let c = start;
    while (run < n) {
      if ((c + 1) * this.cs > MAX_HOST_OFFSET) throw new BlockError('qcow2: image file would grow beyond the supported size');
      const index = Math.floor(c / per);
      if (run === 0 && index < this.table.length && (this.table[index] ?? 0) !== 0 && this.blockIsFull(index)) {
        c = (index + 1) * per;
        start = c;
        continue;
      }
      if (this.get(c) === 0) {
        if (run === 0) start = c;
        run++;
      } else {
        run = 0;
      }
      c++;
    }
    this.owner.checkFree(start * this.cs, n * this.cs);
    const deltas = new Map<number, number>();
    for (let i = 0; i < n; i++) deltas.set(start + i, 1);
    this.change(deltas, [start, start + n]);
    this.freeHint = start + n;
    return start * this.cs;
  }

  /** A refcount block with no zero entry (skipped quickly by the free-cluster search). */
  private blockIsFull(index: number): boolean {
    const b = this.loadBlock(this.blockOffset(index));
    const per = 2 ** this.blockBits;
    if (this.order === 4) {
      for (let i = 0; i < b.length; i += 2) if (b[i] === 0 && b[i + 1] === 0) return false;
      return true;
    }
    for (let i = 0; i < per; i++) if (Refcounts.entryGet(b, i, this.order) === 0) return false;
    return true;
  }

  /** Drops one reference from every cluster overlapping [offset, offset + length). */
  free(offset: number, length: number): void {
    if (length <= 0) return;
    const deltas = new Map<number, number>();
    const first = Math.floor(offset / this.cs);
    const last = Math.floor((offset + length - 1) / this.cs);
    for (let c = first; c <= last; c++) deltas.set(c, -1);
    this.change(deltas);
  }

  /** Forgets cached blocks (after the file changed under us). */
  dropCache(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }
}
