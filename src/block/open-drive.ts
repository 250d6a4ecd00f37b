/**
 * Opens the image of a `-drive` as QEMU's `blk_new_open` would: the format given, or probed
 * from the first 512 bytes (with QEMU's warning when probing guessed raw, and block 0 writes
 * restricted), read-only when asked.
 *
 * `snapshot=on` (and `-snapshot`): the image is opened read-only and writes go to a temporary
 * qcow2 overlay backed by it (QEMU's `bdrv_append_temp_snapshot`), created in os.tmpdir()
 * with mode 0600 and unlinked as soon as it is open, so nothing is left behind even if pcvm
 * is killed.
 *
 * Formats: raw and qcow2. Others that QEMU knows are refused with a clear error.
 */

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockError, type BlockBackend } from './block-backend.js';
import { HostFile } from './host-file.js';
import { PROBE_BUF_SIZE, probeFormat } from './probe-format.js';
import { canonicalPath } from './qcow2/backing.js';
import { createQcow2 } from './qcow2/create.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { RawImage } from './raw-image.js';

/** The parts of a `DriveSpec` that choose and open the image. */
export interface OpenDriveSpec {
  file: string;
  format?: string;
  readOnly: boolean;
  snapshot: boolean;
  cache: string;
}

/** QEMU's warning (block.c, `find_image_format` caller), printed as QEMU prints it. */
export function probedRawWarning(file: string): string {
  return `WARNING: Image format was not specified for '${file}' and probing guessed raw.\n` +
    '         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.\n' +
    "         Specify the 'raw' format explicitly to remove the restrictions.";
}

export function openDrive(
  spec: { file: string; format?: string; readOnly: boolean; snapshot: boolean; cache: string },
  warn: (msg: string) => void,
): BlockBackend {
  if (spec.snapshot && !spec.readOnly) return openWithTemporaryOverlay(spec, warn);
  return openImage(spec, spec.readOnly, warn);
}

function openImage(spec: OpenDriveSpec, readOnly: boolean, warn: (msg: string) => void): BlockBackend {
  let format = spec.format;
  const probed = format === undefined;
  const file = HostFile.open(spec.file, readOnly);
  try {
    if (format === undefined) {
      const head = new Uint8Array(PROBE_BUF_SIZE);
      file.pread(0, head);
      format = probeFormat(head.subarray(0, Math.min(PROBE_BUF_SIZE, file.size())));
    }
    switch (format) {
      case 'raw': {
        const img = RawImage.fromHostFile(file, { readOnly, cache: spec.cache, probed, fileName: spec.file });
        if (probed) warn(probedRawWarning(spec.file));
        return img;
      }
      case 'qcow2':
        return Qcow2Image.fromHostFile(file, { readOnly, cache: spec.cache, fileName: spec.file });
      default:
        throw new BlockError(
          probed
            ? `'${spec.file}' is a ${format} image; pcvm supports only the raw and qcow2 formats (specify format=raw to use it as raw)`
            : `Block format '${format}' is not supported by pcvm (only raw and qcow2)`);
    }
  } catch (err) {
    file.close();
    throw err;
  }
}

function openWithTemporaryOverlay(spec: OpenDriveSpec, warn: (msg: string) => void): BlockBackend {
  // Open the image once read-only to check it, learn its format and size, and warn as QEMU does.
  const base = openImage(spec, true, warn);
  const size = base.sizeBytes;
  const format = base.format;
  base.close();
  const overlay = join(tmpdir(), `pcvm-snapshot-${process.pid}-${randomBytes(6).toString('hex')}.qcow2`);
  createQcow2(overlay, size, { backingFile: canonicalPath(spec.file), backingFormat: format, exclusive: true });
  let img: Qcow2Image;
  try {
    // QEMU opens temporary overlays without flushes (bdrv_temp_snapshot_flags: BDRV_O_NO_FLUSH).
    img = Qcow2Image.open(overlay, { readOnly: false, cache: 'unsafe' });
  } catch (err) {
    rmSync(overlay, { force: true });
    throw err;
  }
  try {
    rmSync(overlay);
  } catch {
    // Could not unlink while open: delete on close instead.
    img.close();
    return Qcow2Image.open(overlay, { readOnly: false, cache: 'unsafe', deleteOnClose: overlay });
  }
  return img;
}
