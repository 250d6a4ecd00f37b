/**
 * Compressed clusters (qcow2.txt "Compressed Clusters Descriptor"): raw deflate (zlib
 * windowBits -12) of one whole cluster. As QEMU's `qcow2_zlib_decompress`, the data must
 * inflate to exactly one cluster; the bytes after the deflate stream (sector padding) are
 * ignored. XXX: QEMU accepts a stream that inflates to more than a cluster and keeps the first
 * cluster; no compressor writes one, and pcvm reports it as corruption rather than inflate it. zstd (compression type 1) is not available in Node 20 and is refused.
 */

import { inflateRawSync, constants } from 'node:zlib';
import { BlockError } from '../block-backend.js';

export function inflateCluster(data: Uint8Array, clusterSize: number, compressionType: number): Uint8Array {
  if (compressionType !== 0) {
    throw new BlockError('qcow2: zstd-compressed clusters are not supported by pcvm (convert the image with qemu-img convert)');
  }
  let out: Buffer;
  try {
    out = inflateRawSync(data, { maxOutputLength: clusterSize, finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new BlockError(`qcow2: a compressed cluster could not be decompressed (${(err as Error).message}); the image is corrupt`);
  }
  if (out.length !== clusterSize) {
    throw new BlockError(`qcow2: a compressed cluster decompresses to ${out.length} bytes instead of ${clusterSize}; the image is corrupt`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
