/**
 * The raw image format: the virtual disk is the host file byte for byte (QEMU's
 * block/raw-format.c over block/file-posix.c).
 *
 * - The size is the file length rounded up to 512-byte sectors; bytes past the end read as
 *   zeros and a write there grows the file, as file-posix does.
 * - `cache=writethrough`/`directsync` make every write durable before it completes (QEMU
 *   flushes after each write); `cache=unsafe` ignores flushes; the others flush on request.
 *   O_DIRECT (`cache=none`) is not used: Node has no aligned buffers, and the result on disk
 *   is the same.
 * - A raw image whose format was probed refuses a write that would make sector 0 probe as
 *   another format (QEMU's `raw_co_pwritev` with `bs->probed`): EPERM there, a BlockError here.
 * - Discard and write-zeroes write zeros (Node cannot punch holes); the part past the end of
 *   the file is already zero and is left alone.
 */

import { BlockError, type BlockBackend } from './block-backend.js';
import { HostFile } from './host-file.js';
import { PROBE_BUF_SIZE, probeFormat } from './probe-format.js';

export interface RawImageOptions {
  readonly readOnly: boolean;
  /** `-drive cache=`: writeback, writethrough, none, directsync, unsafe. */
  readonly cache: string;
  /** The format was guessed, not given: block 0 writes are restricted. */
  readonly probed: boolean;
  /** The name shown as `fileName` (defaults to the path). */
  readonly fileName?: string;
}

/** Size of the zero buffer used for write-zeroes. */
const ZERO_CHUNK = 1 << 20;

export class RawImage implements BlockBackend {
  readonly format = 'raw';
  readonly fileName: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  private readonly file: HostFile;
  private readonly probed: boolean;
  private readonly writeThrough: boolean;
  private readonly ignoreFlush: boolean;

  private constructor(file: HostFile, opts: RawImageOptions) {
    this.file = file;
    this.fileName = opts.fileName ?? file.path;
    this.readOnly = opts.readOnly;
    this.probed = opts.probed;
    this.writeThrough = opts.cache === 'writethrough' || opts.cache === 'directsync';
    this.ignoreFlush = opts.cache === 'unsafe';
    this.sizeBytes = Math.ceil(file.size() / 512) * 512;
  }

  /** Opens `path` as a raw image; throws BlockError with QEMU's wording when it cannot. */
  static open(path: string, opts: RawImageOptions): RawImage {
    return new RawImage(HostFile.open(path, opts.readOnly), opts);
  }

  /** Wraps an already open host file (used by openDrive, which probed it). */
  static fromHostFile(file: HostFile, opts: RawImageOptions): RawImage {
    return new RawImage(file, opts);
  }

  private checkRange(op: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
        offset + length > this.sizeBytes) {
      throw new BlockError(`${this.fileName}: ${op} of ${length} bytes at ${offset} is outside the ${this.sizeBytes}-byte disk`);
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new BlockError(`Block node is read-only: '${this.fileName}'`);
  }

  read(offset: number, buf: Uint8Array): void {
    this.checkRange('read', offset, buf.length);
    this.file.pread(offset, buf);
  }

  write(offset: number, data: Uint8Array): void {
    this.checkWritable();
    this.checkRange('write', offset, data.length);
    if (this.probed && offset < PROBE_BUF_SIZE && data.length > 0) this.checkBlockZero(offset, data);
    this.file.pwrite(offset, data);
    if (this.writeThrough) this.file.sync();
  }

  /**
   * Sector 0 as it would be after writing `data` at `offset` must still probe as raw
   * (QEMU's `raw_co_pwritev`: `bdrv_probe_all(buf) != bs->drv` → -EPERM).
   */
  private checkBlockZero(offset: number, data: Uint8Array | undefined, zeroLength = 0): void {
    const sector = new Uint8Array(PROBE_BUF_SIZE);
    this.file.pread(0, sector);
    if (data) {
      sector.set(data.subarray(0, PROBE_BUF_SIZE - offset), offset);
    } else {
      sector.fill(0, offset, Math.min(PROBE_BUF_SIZE, offset + zeroLength));
    }
    const looksLike = probeFormat(sector);
    if (looksLike !== 'raw') {
      throw new BlockError(
        `${this.fileName}: write to block 0 refused: it would make the image probe as ${looksLike} ` +
        `(the format was probed; specify format=raw to remove the restriction)`);
    }
  }

  flush(): void {
    if (!this.ignoreFlush) this.file.sync();
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  writeZeroes(offset: number, length: number): void {
    this.checkWritable();
    this.checkRange('write-zeroes', offset, length);
    if (this.probed && offset < PROBE_BUF_SIZE && length > 0) this.checkBlockZero(offset, undefined, length);
    // Bytes past the end of the host file already read as zero; do not allocate them.
    const end = Math.min(offset + length, this.file.size());
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK, Math.max(0, end - offset)));
    for (let pos = offset; pos < end; pos += zeros.length) {
      this.file.pwrite(pos, end - pos < zeros.length ? zeros.subarray(0, end - pos) : zeros);
    }
    if (this.writeThrough) this.file.sync();
  }

  close(): void {
    if (this.file.closed) return;
    if (!this.readOnly && !this.ignoreFlush) this.file.sync();
    this.file.close();
  }
}
