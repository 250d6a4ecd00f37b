/**
 * Opens the image of a `-drive` as QEMU's `blk_new_open` would: the format given, or probed
 * from the first 512 bytes (with QEMU's warning when probing guessed raw, and block 0 writes
 * restricted), read-only when asked.
 *
 * Formats: raw and qcow2. Others that QEMU knows are refused with a clear error.
 */

import { BlockError, type BlockBackend } from './block-backend.js';
import { HostFile } from './host-file.js';
import { PROBE_BUF_SIZE, probeFormat } from './probe-format.js';
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
  if (spec.snapshot) throw new BlockError(`${spec.file}: snapshot=on is not implemented yet`);
  let format = spec.format;
  const probed = format === undefined;
  const file = HostFile.open(spec.file, spec.readOnly);
  try {
    if (format === undefined) {
      const head = new Uint8Array(PROBE_BUF_SIZE);
      file.pread(0, head.subarray(0, Math.min(PROBE_BUF_SIZE, file.size())));
      format = probeFormat(head.subarray(0, Math.min(PROBE_BUF_SIZE, file.size())));
    }
    switch (format) {
      case 'raw': {
        const img = RawImage.fromHostFile(file, { readOnly: spec.readOnly, cache: spec.cache, probed, fileName: spec.file });
        if (probed) warn(probedRawWarning(spec.file));
        return img;
      }
      case 'qcow2':
        throw new BlockError(`${spec.file}: the qcow2 format is not implemented yet`);
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
