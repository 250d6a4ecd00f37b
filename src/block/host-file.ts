/**
 * A host file under a disk image: positioned synchronous reads and writes, size, fsync and
 * truncate, with every host error turned into a one-line `BlockError` worded as QEMU's
 * file-posix driver words it ("Could not open 'disk.img': No such file or directory").
 *
 * Reads past the end of the file return zeros, as a sparse file or QEMU's raw driver does.
 */

import * as fs from 'node:fs';
import { BlockError } from './block-backend.js';

/** strerror() text for the errno codes a disk file can give (glibc wording, as QEMU prints). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EIO: 'Input/output error',
  ELOOP: 'Too many levels of symbolic links',
  EFBIG: 'File too large',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  ENAMETOOLONG: 'File name too long',
  ENXIO: 'No such device or address',
  EBUSY: 'Device or resource busy',
  EINVAL: 'Invalid argument',
  EBADF: 'Bad file descriptor',
  EDQUOT: 'Disk quota exceeded',
};

/** The strerror() text of a Node system error, or its message when it has no errno code. */
export function hostErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined) return ERRNO_TEXT[code] ?? code;
  return err instanceof Error ? err.message : String(err);
}

export class HostFile {
  private fd: number | undefined;
  /** File length, kept current by our own writes (nothing else writes an image we hold open). */
  private length: number | undefined;

  private constructor(fd: number, readonly path: string, readonly readOnly: boolean) {
    this.fd = fd;
  }

  /**
   * Opens `path` (O_RDONLY or O_RDWR, never creating it). Only regular files are accepted, as
   * QEMU's 'file' driver requires; block devices are not supported by pcvm.
   */
  static open(path: string, readOnly: boolean): HostFile {
    // stat first: opening a FIFO or a tty can block or have side effects.
    try {
      if (!fs.statSync(path).isFile()) throw new BlockError(`'file' driver requires '${path}' to be a regular file`);
    } catch (err) {
      if (err instanceof BlockError) throw err;
      throw new BlockError(`Could not open '${path}': ${hostErrorText(err)}`);
    }
    let fd: number;
    try {
      const mode = readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR;
      fd = fs.openSync(path, mode | fs.constants.O_NONBLOCK);
    } catch (err) {
      throw new BlockError(`Could not open '${path}': ${hostErrorText(err)}`);
    }
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw new BlockError(`Could not open '${path}': ${hostErrorText(err)}`);
    }
    if (!st.isFile()) {
      fs.closeSync(fd);
      throw new BlockError(`'file' driver requires '${path}' to be a regular file`);
    }
    return new HostFile(fd, path, readOnly);
  }

  private handle(): number {
    if (this.fd === undefined) throw new BlockError(`'${this.path}' is closed`);
    return this.fd;
  }

  /** Current length of the file in bytes. */
  size(): number {
    if (this.length !== undefined) return this.length;
    try {
      this.length = fs.fstatSync(this.handle()).size;
      return this.length;
    } catch (err) {
      throw this.ioError('stat', err);
    }
  }

  /** Fills `buf` from file offset `pos`; bytes past the end of the file read as zero. */
  pread(pos: number, buf: Uint8Array): void {
    const fd = this.handle();
    let done = 0;
    try {
      while (done < buf.length) {
        const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
        if (n === 0) break;
        done += n;
      }
    } catch (err) {
      throw this.ioError('read', err);
    }
    if (done < buf.length) buf.fill(0, done);
  }

  /** Writes all of `data` at file offset `pos`, growing the file if needed. */
  pwrite(pos: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockError(`'${this.path}' is opened read-only`);
    const fd = this.handle();
    let done = 0;
    try {
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, pos + done);
    } catch (err) {
      this.length = undefined;
      throw this.ioError('write', err);
    }
    if (this.length !== undefined && pos + data.length > this.length) this.length = pos + data.length;
  }

  /** Sets the file length (grows with a hole or shrinks). */
  truncate(length: number): void {
    if (this.readOnly) throw new BlockError(`'${this.path}' is opened read-only`);
    try {
      fs.ftruncateSync(this.handle(), length);
      this.length = length;
    } catch (err) {
      this.length = undefined;
      throw this.ioError('truncate', err);
    }
  }

  /** `cache=unsafe` and temporary overlays: fsync is skipped (QEMU's BDRV_O_NO_FLUSH). */
  noFlush = false;

  /** fsync(2): data and metadata of the file reach stable storage. */
  sync(): void {
    if (this.readOnly || this.noFlush) return;
    try {
      fs.fsyncSync(this.handle());
    } catch (err) {
      throw this.ioError('flush', err);
    }
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  /** Closes the descriptor. Idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch (err) {
      throw this.ioError('close', err);
    }
  }

  private ioError(op: string, err: unknown): BlockError {
    return new BlockError(`Could not ${op} '${this.path}': ${hostErrorText(err)}`);
  }
}
