/**
 * The qcow2 header (QEMU docs/interop/qcow2.txt, "Header" and "Header extensions"): parsing
 * with every field checked against the limits QEMU's `qcow2_do_open` enforces, in QEMU's
 * order and with QEMU's messages, before anything is allocated from the values; and the
 * encoding used to create images.
 *
 * Beyond QEMU: tables (L1, refcount table, snapshot table) must lie inside the file, and
 * offsets and sizes must stay below 2^53 (no image pcvm can open needs more).
 */

import { BlockError } from '../block-backend.js';
import type { HostFile } from '../host-file.js';
import { be32, put32, put64 } from './bytes.js';

export const QCOW_MAGIC = 0x514649fb;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
const MiB = 1 << 20;
/** Limits from QEMU block/qcow2.h. */
export const QCOW_MAX_REFTABLE_SIZE = 8 * MiB;
export const QCOW_MAX_L1_SIZE = 32 * MiB;
export const QCOW_MAX_SNAPSHOTS = 65536;
export const QCOW_MAX_SNAPSHOTS_SIZE = 1024 * QCOW_MAX_SNAPSHOTS;
export const QCOW_MAX_SNAPSHOT_EXTRA_DATA = 1024;
/** Size of the fixed part of a snapshot table entry (QCowSnapshotHeader). */
export const SNAPSHOT_HEADER_SIZE = 40;
/** bs->backing_file is char[4096]; the qcow2 driver further limits the name to 1023 bytes. */
export const MAX_BACKING_FILE_NAME = 1023;

/** Incompatible feature bits. */
export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_DATA_FILE = 1n << 2n;
export const INCOMPAT_COMPRESSION = 1n << 3n;
export const INCOMPAT_EXTL2 = 1n << 4n;
const INCOMPAT_MASK = 0x1fn;

/** Header extension magics. */
export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_CRYPTO_HEADER = 0x0537be77;
export const EXT_BITMAPS = 0x23852875;
export const EXT_DATA_FILE = 0x44415441;

/** Byte offsets of the header fields pcvm rewrites in place. */
export const HDR_L1_SIZE = 36;
export const HDR_L1_TABLE_OFFSET = 40;
export const HDR_REFCOUNT_TABLE_OFFSET = 48;
export const HDR_REFCOUNT_TABLE_CLUSTERS = 56;
export const HDR_NB_SNAPSHOTS = 60;
export const HDR_SNAPSHOTS_OFFSET = 64;
export const HDR_INCOMPATIBLE = 72;
export const HDR_AUTOCLEAR = 88;
/** Version 3 header length QEMU writes (with compression_type and padding). */
export const V3_HEADER_LENGTH = 112;

export interface Qcow2Header {
  readonly version: 2 | 3;
  readonly clusterBits: number;
  /** Virtual disk size in bytes as stored (QEMU uses size / 512 sectors). */
  readonly size: number;
  readonly cryptMethod: number;
  readonly l1Size: number;
  readonly l1TableOffset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly nbSnapshots: number;
  readonly snapshotsOffset: number;
  readonly incompatibleFeatures: bigint;
  readonly compatibleFeatures: bigint;
  readonly autoclearFeatures: bigint;
  readonly refcountOrder: number;
  readonly headerLength: number;
  readonly compressionType: number;
  readonly backingFile?: string;
  readonly backingFormat?: string;
}

/** A u64 field as a number, or Infinity when it is 2^53 or more. */
function u64(b: Uint8Array, off: number): number {
  const hi = be32(b, off);
  return hi >= 0x20_0000 ? Infinity : hi * 0x1_0000_0000 + be32(b, off + 4);
}

function u64Big(b: Uint8Array, off: number): bigint {
  return (BigInt(be32(b, off)) << 32n) | BigInt(be32(b, off + 4));
}

/**
 * QEMU's `qcow2_validate_table`: entry count against the maximum size, offset cluster-aligned
 * and without overflow; pcvm also requires the table to lie inside the file.
 */
export function validateTable(
  offset: number, entries: number, entryLen: number, maxBytes: number, name: string,
  clusterSize: number, fileSize: number,
): void {
  if (entries > Math.floor(maxBytes / entryLen)) throw new BlockError(`${name} too large`);
  if (!Number.isFinite(offset) || offset % clusterSize !== 0) throw new BlockError(`${name} offset invalid`);
  if (entries > 0 && offset + entries * entryLen > fileSize) {
    throw new BlockError(`${name} lies beyond the end of the image file (offset 0x${offset.toString(16)}); the image is truncated or corrupt`);
  }
}

function ascii(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

interface Extensions {
  backingFormat?: string;
  featureNames: { type: number; bit: number; name: string }[];
  hasBitmaps: boolean;
}

/** QEMU's `qcow2_read_extensions` for the extensions pcvm needs (others are kept untouched in the file). */
function readExtensions(file: HostFile, start: number, end: number): Extensions {
  const out: Extensions = { featureNames: [], hasBitmaps: false };
  let offset = start;
  const hdr = new Uint8Array(8);
  while (offset < end) {
    file.pread(offset, hdr);
    const magic = be32(hdr, 0);
    const len = be32(hdr, 4);
    offset += 8;
    if (offset > end || len > end - offset) throw new BlockError('Header extension too large');
    if (magic === EXT_END) return out;
    const data = new Uint8Array(len);
    file.pread(offset, data);
    switch (magic) {
      case EXT_BACKING_FORMAT:
        if (len >= 16) throw new BlockError(`ERROR: ext_backing_format: len=${len} too large (>=16)`);
        out.backingFormat = ascii(data);
        break;
      case EXT_FEATURE_TABLE:
        for (let i = 0; i + 48 <= len; i += 48) {
          const nameBytes = data.subarray(i + 2, i + 48);
          const nul = nameBytes.indexOf(0);
          out.featureNames.push({ type: data[i]!, bit: data[i + 1]!, name: ascii(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)) });
        }
        break;
      case EXT_BITMAPS:
        out.hasBitmaps = true;
        break;
      default:
        break;
    }
    offset += (len + 7) & ~7;
  }
  return out;
}

/** QEMU's `report_unsupported_feature`. */
function unsupportedFeatures(table: Extensions['featureNames'], mask: bigint): string {
  const names: string[] = [];
  for (const f of table) {
    if (f.type === 0 && f.bit < 64 && mask & (1n << BigInt(f.bit))) {
      names.push(f.name.slice(0, 46));
      mask &= ~(1n << BigInt(f.bit));
    }
  }
  if (mask) names.push(`Unknown incompatible feature: ${mask.toString(16)}`);
  return `Unsupported qcow2 feature(s): ${names.join(', ')}`;
}

/** Number of L1 entries needed for `size` bytes (QEMU's size_to_l1). */
export function sizeToL1(size: number, clusterBits: number): number {
  const shift = clusterBits + (clusterBits - 3);
  return Math.ceil(size / 2 ** shift);
}

/**
 * Reads and validates the header of an open qcow2 file. `readOnly` matters for the corrupt
 * and dirty bits. Throws BlockError with QEMU's message for every invalid field.
 */
export function readHeader(file: HostFile, readOnly: boolean): Qcow2Header {
  const fileSize = file.size();
  const b = new Uint8Array(V3_HEADER_LENGTH);
  file.pread(0, b);
  if (be32(b, 0) !== QCOW_MAGIC) throw new BlockError('Image is not in qcow2 format');
  const version = be32(b, 4);
  if (version < 2 || version > 3) throw new BlockError(`Unsupported qcow2 version ${version}`);
  const clusterBits = be32(b, 20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new BlockError(`Unsupported cluster size: 2^${clusterBits}`);
  }
  const clusterSize = 2 ** clusterBits;
  let incompat = 0n, compat = 0n, autoclear = 0n, refcountOrder = 4, headerLength = 72;
  if (version === 3) {
    incompat = u64Big(b, 72);
    compat = u64Big(b, 80);
    autoclear = u64Big(b, 88);
    refcountOrder = be32(b, 96);
    headerLength = be32(b, 100);
    if (headerLength < 104) throw new BlockError('qcow2 header too short');
  }
  if (headerLength > clusterSize) throw new BlockError('qcow2 header exceeds cluster size');
  const backingFileOffset = u64(b, 8);
  if (backingFileOffset > clusterSize) throw new BlockError('Invalid backing file offset');
  const extEnd = backingFileOffset ? backingFileOffset : clusterSize;

  const compressionType = headerLength > 104 ? b[104]! : 0;
  if (compressionType !== 0 && compressionType !== 1) {
    throw new BlockError(`qcow2: unknown compression type: ${compressionType}`);
  }
  if (compressionType === 0 && incompat & INCOMPAT_COMPRESSION) {
    throw new BlockError('qcow2: Compression type incompatible feature bit must not be set');
  }
  if (compressionType !== 0 && !(incompat & INCOMPAT_COMPRESSION)) {
    throw new BlockError('qcow2: Compression type incompatible feature bit must be set');
  }
  if (incompat & ~INCOMPAT_MASK) {
    let table: Extensions['featureNames'] = [];
    try {
      table = readExtensions(file, headerLength, extEnd).featureNames;
    } catch {
      // QEMU ignores extension errors here; the unsupported feature is the error to report.
    }
    throw new BlockError(unsupportedFeatures(table, incompat & ~INCOMPAT_MASK));
  }
  if (incompat & INCOMPAT_CORRUPT && !readOnly) {
    throw new BlockError('qcow2: Image is corrupt; cannot be opened read/write');
  }
  if (incompat & INCOMPAT_EXTL2) {
    throw new BlockError('qcow2: images with extended L2 entries (subclusters) are not supported by pcvm');
  }
  if (incompat & INCOMPAT_DATA_FILE) {
    throw new BlockError('qcow2: images with an external data file are not supported by pcvm');
  }
  if (refcountOrder > 6) throw new BlockError('Reference count entry width too large; may not exceed 64 bits');
  const cryptMethod = be32(b, 32);
  if (cryptMethod === 1) {
    throw new BlockError('Use of AES-CBC encrypted qcow2 images is no longer supported in system emulators');
  }
  if (cryptMethod !== 0) throw new BlockError(`qcow2: encrypted images (crypt method ${cryptMethod}) are not supported by pcvm`);

  const refcountTableOffset = u64(b, 48);
  const refcountTableClusters = be32(b, 56);
  if (refcountTableClusters === 0) throw new BlockError('Image does not contain a reference count table');
  validateTable(refcountTableOffset, refcountTableClusters, clusterSize, QCOW_MAX_REFTABLE_SIZE, 'Reference count table', clusterSize, fileSize);
  const nbSnapshots = be32(b, 60);
  const snapshotsOffset = u64(b, 64);
  validateTable(snapshotsOffset, nbSnapshots, SNAPSHOT_HEADER_SIZE, SNAPSHOT_HEADER_SIZE * QCOW_MAX_SNAPSHOTS, 'Snapshot table', clusterSize, fileSize);
  const l1Size = be32(b, 36);
  const l1TableOffset = u64(b, 40);
  validateTable(l1TableOffset, l1Size, 8, QCOW_MAX_L1_SIZE, 'Active L1 table', clusterSize, fileSize);

  const rawSize = u64(b, 24);
  const size = Math.floor(rawSize / 512) * 512;
  const l1VmStateIndex = sizeToL1(size, clusterBits);
  if (!Number.isFinite(rawSize) || l1VmStateIndex > 0x7fffffff) throw new BlockError('Image is too big');
  if (l1Size < l1VmStateIndex) throw new BlockError('L1 table is too small');

  const ext = readExtensions(file, headerLength, extEnd);
  let backingFile: string | undefined;
  if (backingFileOffset !== 0) {
    const len = be32(b, 16);
    if (len > Math.min(MAX_BACKING_FILE_NAME, clusterSize - backingFileOffset)) {
      throw new BlockError('Backing file name too long');
    }
    const name = new Uint8Array(len);
    file.pread(backingFileOffset, name);
    const nul = name.indexOf(0);
    backingFile = Buffer.from(nul < 0 ? name : name.subarray(0, nul)).toString('utf8');
  }

  if (incompat & INCOMPAT_DIRTY && !readOnly) {
    throw new BlockError(
      "qcow2: the image is dirty (lazy refcounts were in use and it was not closed cleanly); " +
      "repair it with 'qemu-img check -r all' or open it read-only");
  }

  return {
    version: version as 2 | 3, clusterBits, size, cryptMethod, l1Size, l1TableOffset,
    refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset,
    incompatibleFeatures: incompat, compatibleFeatures: compat, autoclearFeatures: autoclear,
    refcountOrder, headerLength, compressionType,
    ...(backingFile !== undefined ? { backingFile } : {}),
    ...(ext.backingFormat !== undefined ? { backingFormat: ext.backingFormat } : {}),
  };
}

export interface NewHeaderFields {
  readonly version: 2 | 3;
  readonly clusterBits: number;
  readonly size: number;
  readonly l1Size: number;
  readonly l1TableOffset: number;
  readonly refcountTableOffset: number;
  readonly refcountTableClusters: number;
  readonly refcountOrder: number;
  readonly backingFile?: string;
  readonly backingFormat?: string;
}

/**
 * The first cluster of a new image: header, the backing format extension, the end marker, and
 * the backing file name after the extensions (where QEMU's `qcow2_update_header` puts it).
 */
export function encodeHeaderCluster(h: NewHeaderFields): Uint8Array {
  const clusterSize = 2 ** h.clusterBits;
  const b = new Uint8Array(clusterSize);
  const headerLength = h.version === 3 ? V3_HEADER_LENGTH : 72;
  put32(b, 0, QCOW_MAGIC);
  put32(b, 4, h.version);
  put32(b, 20, h.clusterBits);
  put64(b, 24, h.size);
  put32(b, HDR_L1_SIZE, h.l1Size);
  put64(b, HDR_L1_TABLE_OFFSET, h.l1TableOffset);
  put64(b, HDR_REFCOUNT_TABLE_OFFSET, h.refcountTableOffset);
  put32(b, HDR_REFCOUNT_TABLE_CLUSTERS, h.refcountTableClusters);
  if (h.version === 3) {
    put32(b, 96, h.refcountOrder);
    put32(b, 100, headerLength);
  }
  let off = headerLength;
  if (h.backingFormat !== undefined) {
    const fmt = Buffer.from(h.backingFormat, 'utf8');
    put32(b, off, EXT_BACKING_FORMAT);
    put32(b, off + 4, fmt.length);
    b.set(fmt, off + 8);
    off += 8 + ((fmt.length + 7) & ~7);
  }
  off += 8; // end of extensions (magic 0, length 0)
  if (h.backingFile !== undefined) {
    const name = Buffer.from(h.backingFile, 'utf8');
    if (name.length > MAX_BACKING_FILE_NAME || off + name.length > clusterSize) {
      throw new BlockError('Backing file name too long');
    }
    put64(b, 8, off);
    put32(b, 16, name.length);
    b.set(name, off);
  }
  return b;
}

