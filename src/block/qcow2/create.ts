/**
 * Creating qcow2 images, laid out as `qemu-img create -f qcow2` does: the header cluster, the
 * refcount table, the refcount block(s) counting the metadata, then the (empty) L1 table.
 * Version 3 (compat=1.1), 64 KiB clusters and 16-bit refcounts by default.
 */

import * as fs from 'node:fs';
import { BlockError } from '../block-backend.js';
import { hostErrorText } from '../host-file.js';
import { put16, put64 } from './bytes.js';
import { MAX_CLUSTER_BITS, MIN_CLUSTER_BITS, encodeHeaderCluster, sizeToL1 } from './header.js';

export interface CreateQcow2Options {
  /** Stored as given: a relative name is relative to the new image's directory. */
  readonly backingFile?: string;
  readonly backingFormat?: string;
  /** Default 16 (64 KiB). */
  readonly clusterBits?: number;
  /** Default 3. */
  readonly version?: 2 | 3;
  /** Default 4 (16-bit refcounts); version 2 images always use 4. */
  readonly refcountOrder?: number;
  /** Create a new file only (O_EXCL) with mode 0600, for temporary overlays. */
  readonly exclusive?: boolean;
}

/** Creates (or overwrites) `path` as an empty qcow2 image of `sizeBytes` (rounded up to 512). */
export function createQcow2(path: string, sizeBytes: number, opts: CreateQcow2Options = {}): void {
  const clusterBits = opts.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new BlockError(`Cluster size must be a power of two between ${2 ** MIN_CLUSTER_BITS} and ${2 ** (MAX_CLUSTER_BITS - 10)}k`);
  }
  const version = opts.version ?? 3;
  const refcountOrder = version === 2 ? 4 : opts.refcountOrder ?? 4;
  if (refcountOrder < 0 || refcountOrder > 6) throw new BlockError('Refcount width must be a power of two and may not exceed 64 bits');
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) throw new BlockError(`Invalid image size ${sizeBytes}`);
  const size = Math.ceil(sizeBytes / 512) * 512;
  const cs = 2 ** clusterBits;
  const l1Size = sizeToL1(size, clusterBits);
  if (l1Size * 8 > 32 << 20) throw new BlockError('Image size is too large for this cluster size');
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const perBlock = 2 ** (clusterBits + 3 - refcountOrder);
  // header + reftable + refblocks + L1, with enough refblocks to count all of them.
  let blocks = 1;
  let tableClusters = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const needBlocks = Math.ceil(total / perBlock);
    const needTable = Math.ceil((needBlocks * 8) / cs);
    if (needBlocks <= blocks && needTable <= tableClusters) break;
    blocks = Math.max(blocks, needBlocks);
    tableClusters = Math.max(tableClusters, needTable);
  }
  const reftableOffset = cs;
  const blocksOffset = reftableOffset + tableClusters * cs;
  const l1Offset = l1Size > 0 ? blocksOffset + blocks * cs : 0;
  const totalClusters = 1 + tableClusters + blocks + l1Clusters;

  const header = encodeHeaderCluster({
    version, clusterBits, size, l1Size, l1TableOffset: l1Offset, refcountTableOffset: reftableOffset,
    refcountTableClusters: tableClusters, refcountOrder,
    ...(opts.backingFile !== undefined ? { backingFile: opts.backingFile } : {}),
    ...(opts.backingFormat !== undefined ? { backingFormat: opts.backingFormat } : {}),
  });
  const reftable = new Uint8Array(tableClusters * cs);
  for (let i = 0; i < blocks; i++) put64(reftable, i * 8, blocksOffset + i * cs);
  const refblocks = new Uint8Array(blocks * cs);
  const bitsPer = 2 ** refcountOrder;
  for (let c = 0; c < totalClusters; c++) {
    // A refcount of 1 at index c, in the entry width of refcount_order (big-endian, LSB-first below a byte).
    if (bitsPer >= 8) {
      const bytes = bitsPer / 8;
      if (bytes === 2) put16(refblocks, c * 2, 1);
      else refblocks[c * bytes + bytes - 1] = 1;
    } else {
      const perByte = 8 / bitsPer;
      refblocks[Math.floor(c / perByte)]! |= 1 << ((c % perByte) * bitsPer);
    }
  }
  let fd: number;
  try {
    fd = opts.exclusive ? fs.openSync(path, 'wx', 0o600) : fs.openSync(path, 'w', 0o644);
  } catch (err) {
    throw new BlockError(`Could not create '${path}': ${hostErrorText(err)}`);
  }
  try {
    fs.writeSync(fd, header, 0, header.length, 0);
    fs.writeSync(fd, reftable, 0, reftable.length, reftableOffset);
    fs.writeSync(fd, refblocks, 0, refblocks.length, blocksOffset);
    if (l1Size > 0) fs.writeSync(fd, new Uint8Array(l1Size * 8), 0, l1Size * 8, l1Offset);
    fs.fsyncSync(fd);
  } catch (err) {
    throw new BlockError(`Could not write '${path}': ${hostErrorText(err)}`);
  } finally {
    fs.closeSync(fd);
  }
}
