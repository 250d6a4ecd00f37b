/**
 * Backing files of qcow2 images: the name stored in the image resolved as QEMU's
 * `bdrv_get_full_backing_filename` does (relative to the directory of the image that names
 * it), opened read-only, with the format from the backing-format extension or probed.
 *
 * pcvm opens only local regular files: protocol names (`nbd:`, `json:`, `http:` … — QEMU's
 * `path_has_protocol`: a colon before the first slash) are refused, as are devices (/dev/…),
 * loops in the chain, and chains deeper than MAX_BACKING_CHAIN.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockError, type BlockBackend } from '../block-backend.js';
import { HostFile } from '../host-file.js';
import { PROBE_BUF_SIZE, probeFormat } from '../probe-format.js';
import { RawImage } from '../raw-image.js';

/** Images in one chain, the top one included. */
export const MAX_BACKING_CHAIN = 64;

export type Qcow2Opener = (file: HostFile, fileName: string, chain: readonly string[]) => BlockBackend;

/** QEMU's path_has_protocol: "proto:..." with the colon before any slash. */
export function hasProtocol(name: string): boolean {
  const m = /[:/]/.exec(name);
  return m !== null && m[0] === ':';
}

export function resolveBackingPath(imagePath: string, name: string): string {
  if (hasProtocol(name)) {
    throw new BlockError(`Backing file '${name}' of '${imagePath}' names a protocol; pcvm opens only local image files`);
  }
  return path.isAbsolute(name) ? name : path.join(path.dirname(imagePath), name);
}

/** The canonical path of an open image, for loop detection. */
export function canonicalPath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

export function openBacking(
  imagePath: string, name: string, format: string | undefined, chain: readonly string[], openQcow2: Qcow2Opener,
): BlockBackend {
  const full = resolveBackingPath(imagePath, name);
  if (chain.length >= MAX_BACKING_CHAIN) {
    throw new BlockError(`Backing file chain of '${chain[0]}' is deeper than ${MAX_BACKING_CHAIN} images`);
  }
  const canon = canonicalPath(full);
  if (chain.includes(canon)) {
    throw new BlockError(`Backing file '${name}' of '${imagePath}' refers back to an image in its own chain (a loop)`);
  }
  let file: HostFile;
  try {
    file = HostFile.open(full, true);
  } catch (err) {
    throw new BlockError(`Could not open backing file: ${(err as Error).message}`);
  }
  try {
    let fmt = format;
    if (fmt === undefined || fmt === '') {
      const head = new Uint8Array(PROBE_BUF_SIZE);
      file.pread(0, head);
      fmt = probeFormat(head.subarray(0, Math.min(PROBE_BUF_SIZE, file.size())));
    }
    const next = [...chain, canon];
    switch (fmt) {
      case 'raw': return RawImage.fromHostFile(file, { readOnly: true, cache: 'writeback', probed: false, fileName: full });
      case 'qcow2': return openQcow2(file, full, next);
      default: throw new BlockError(`Backing file '${full}' has format '${fmt}', which pcvm does not support (only raw and qcow2)`);
    }
  } catch (err) {
    file.close();
    throw err;
  }
}
