/**
 * The machine-state stream: the bytes `savevm` stores in a qcow2 image's vmstate area and
 * `migrate file:` writes. Its own format (QEMU's streams cannot be loaded, nor ours by QEMU).
 *
 *   header (16 bytes, uncompressed)
 *     0  "PCVMSTAT"                 magic
 *     8  u32 BE  format version    (VMSTATE_FORMAT_VERSION)
 *    12  u32 BE  body size in bytes (after inflation)
 *   body: zlib (RFC 1950, node:zlib deflate) of a sequence of sections
 *     u8 0x01 MACHINE  u32 len, JSON       board-level facts (RAM size, clock, instruction count)
 *     u8 0x02 STATE    u16 len, id (UTF-8), u32 version, u32 len, JSON
 *                                          one per component (the CPU, every Device), keyed by id
 *     u8 0x03 RAM      u32 page count, then runs of non-zero 4 KiB pages:
 *                      u32 first page, u32 pages, pages × 4096 bytes; ends with u32 0xFFFFFFFF
 *     u8 0xFF END
 *   All integers big-endian. Zero pages are elided: a loader zero-fills RAM first.
 *
 * The decoder trusts nothing: lengths are checked against what is left, JSON must parse, RAM
 * runs must be ascending and inside RAM, and inflation is capped (`maxBodyBytes`) so that a
 * small hostile stream cannot make pcvm allocate without bound. Field ranges inside each
 * component's JSON are the component's own `loadState` validation.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { SnapshotError } from '../errors.js';

export const VMSTATE_MAGIC = 'PCVMSTAT';
export const VMSTATE_FORMAT_VERSION = 1;
export const VMSTATE_HEADER_BYTES = 16;
export const RAM_PAGE_BYTES = 4096;

const SEC_MACHINE = 0x01;
const SEC_STATE = 0x02;
const SEC_RAM = 0x03;
const SEC_END = 0xff;
const RUNS_END = 0xffffffff;

/** One component's saved state, as its `saveState` returned it. */
export interface ComponentState {
  readonly id: string;
  readonly version: number;
  readonly data: unknown;
}

/** What a stream holds, decoded but not yet applied to any machine. */
export interface DecodedVmState {
  readonly machine: unknown;
  readonly components: ComponentState[];
  /** RAM size in bytes (a multiple of RAM_PAGE_BYTES). */
  readonly ramBytes: number;
  /** Non-zero page runs: `bytes` is a view into the inflated body. */
  readonly ramRuns: { firstPage: number; bytes: Uint8Array }[];
}

/** Plain data to JSON: typed arrays become arrays of numbers (saveState may return views). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v));
}

/** A growable byte buffer for the body. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }

  u16(v: number): void {
    this.reserve(2);
    this.buf[this.length++] = v >>> 8;
    this.buf[this.length++] = v & 0xff;
  }

  u32(v: number): void {
    this.reserve(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0);
    this.length += 4;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Page `page` is all zeros; `words` views RAM as 32-bit words (RAM is 4-byte aligned). */
function isZeroPage(words: Uint32Array, page: number): boolean {
  const end = (page + 1) * (RAM_PAGE_BYTES / 4);
  for (let i = page * (RAM_PAGE_BYTES / 4); i < end; i++) if (words[i] !== 0) return false;
  return true;
}

/** Encodes a machine's state; `ram` must be a whole number of pages (and 4-byte aligned). */
export function encodeVmState(machine: unknown, components: readonly ComponentState[], ram: Uint8Array): Uint8Array {
  if (ram.length % RAM_PAGE_BYTES !== 0) throw new SnapshotError(`vmstate: RAM size ${ram.length} is not a multiple of ${RAM_PAGE_BYTES}`);
  const words = ram.byteOffset % 4 === 0 ? new Uint32Array(ram.buffer, ram.byteOffset, ram.length / 4) : new Uint32Array(ram.slice().buffer);
  const enc = new TextEncoder();
  const w = new ByteWriter();
  const machineJson = enc.encode(toJson(machine));
  w.u8(SEC_MACHINE);
  w.u32(machineJson.length);
  w.bytes(machineJson);
  for (const c of components) {
    const id = enc.encode(c.id);
    const json = enc.encode(toJson(c.data));
    w.u8(SEC_STATE);
    w.u16(id.length);
    w.bytes(id);
    w.u32(c.version);
    w.u32(json.length);
    w.bytes(json);
  }
  const pages = ram.length / RAM_PAGE_BYTES;
  w.u8(SEC_RAM);
  w.u32(pages);
  let p = 0;
  while (p < pages) {
    if (isZeroPage(words, p)) {
      p++;
      continue;
    }
    let end = p + 1;
    while (end < pages && !isZeroPage(words, end)) end++;
    w.u32(p);
    w.u32(end - p);
    w.bytes(ram.subarray(p * RAM_PAGE_BYTES, end * RAM_PAGE_BYTES));
    p = end;
  }
  w.u32(RUNS_END);
  w.u8(SEC_END);
  const body = w.result();
  // Level 1: RAM dominates and compresses well at any level; speed matters more for savevm.
  const packed = deflateSync(body, { level: 1 });
  const out = new Uint8Array(VMSTATE_HEADER_BYTES + packed.length);
  out.set(enc.encode(VMSTATE_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, VMSTATE_FORMAT_VERSION);
  dv.setUint32(12, body.length);
  out.set(packed, VMSTATE_HEADER_BYTES);
  return out;
}

/** Reads the body section by section, naming what is wrong with where it happened. */
class ByteReader {
  pos = 0;
  private readonly dv: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new SnapshotError(`vmstate: truncated stream (${what} at byte ${this.pos} needs ${n} bytes, ${this.buf.length - this.pos} left)`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  get left(): number {
    return this.buf.length - this.pos;
  }
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SnapshotError(`vmstate: ${what}: not valid UTF-8`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SnapshotError(`vmstate: ${what}: not valid JSON`);
  }
}

/**
 * Decodes and checks a stream's structure. `maxBodyBytes` caps inflation (the caller passes
 * its RAM size plus room for the component states). Nothing here touches a machine.
 */
export function decodeVmState(stream: Uint8Array, maxBodyBytes: number): DecodedVmState {
  if (stream.length < VMSTATE_HEADER_BYTES) throw new SnapshotError(`vmstate: truncated stream (${stream.length} bytes, the header alone is ${VMSTATE_HEADER_BYTES})`);
  const magic = new TextDecoder('latin1').decode(stream.subarray(0, 8));
  if (magic !== VMSTATE_MAGIC) throw new SnapshotError('vmstate: not a pcvm machine-state stream (bad magic)');
  const hv = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const version = hv.getUint32(8);
  if (version !== VMSTATE_FORMAT_VERSION) throw new SnapshotError(`vmstate: stream format version ${version} is not supported (expected ${VMSTATE_FORMAT_VERSION})`);
  const bodyBytes = hv.getUint32(12);
  if (bodyBytes > maxBodyBytes) throw new SnapshotError(`vmstate: body of ${bodyBytes} bytes is larger than this machine's state can be (${maxBodyBytes})`);
  let body: Uint8Array;
  try {
    body = inflateSync(stream.subarray(VMSTATE_HEADER_BYTES), { maxOutputLength: Math.max(1, bodyBytes) });
  } catch (e) {
    const msg = e instanceof RangeError ? 'body is longer than its header says' : (e as Error).message;
    throw new SnapshotError(`vmstate: corrupt compressed body (${msg})`);
  }
  if (body.length !== bodyBytes) throw new SnapshotError(`vmstate: truncated stream (body is ${body.length} bytes, header says ${bodyBytes})`);

  const r = new ByteReader(body);
  let machine: unknown;
  let seenMachine = false;
  const components: ComponentState[] = [];
  const ids = new Set<string>();
  let ramBytes = -1;
  const ramRuns: { firstPage: number; bytes: Uint8Array }[] = [];
  const dec = new TextDecoder('utf-8', { fatal: true });
  for (;;) {
    const kind = r.u8('section kind');
    if (kind === SEC_END) break;
    if (kind === SEC_MACHINE) {
      if (seenMachine) throw new SnapshotError('vmstate: two machine sections');
      const len = r.u32('machine section length');
      machine = parseJson(r.bytes(len, 'machine section'), 'machine section');
      seenMachine = true;
    } else if (kind === SEC_STATE) {
      if (!seenMachine) throw new SnapshotError('vmstate: a state section comes before the machine section');
      const idLen = r.u16('state id length');
      let id: string;
      try {
        id = dec.decode(r.bytes(idLen, 'state id'));
      } catch (e) {
        if (e instanceof SnapshotError) throw e;
        throw new SnapshotError('vmstate: a state id is not valid UTF-8');
      }
      if (ids.has(id)) throw new SnapshotError(`vmstate: two state sections for '${id}'`);
      ids.add(id);
      const version = r.u32(`'${id}' version`);
      const len = r.u32(`'${id}' length`);
      components.push({ id, version, data: parseJson(r.bytes(len, `'${id}' state`), `'${id}' state`) });
    } else if (kind === SEC_RAM) {
      if (ramBytes >= 0) throw new SnapshotError('vmstate: two RAM sections');
      const pages = r.u32('RAM page count');
      ramBytes = pages * RAM_PAGE_BYTES;
      let next = 0;
      for (;;) {
        const first = r.u32('RAM run');
        if (first === RUNS_END) break;
        const count = r.u32('RAM run length');
        if (first < next || count === 0 || first + count > pages) {
          throw new SnapshotError(`vmstate: RAM run of ${count} pages at page ${first} is out of order or outside the ${pages} pages of RAM`);
        }
        ramRuns.push({ firstPage: first, bytes: r.bytes(count * RAM_PAGE_BYTES, `RAM pages ${first}+${count}`) });
        next = first + count;
      }
    } else {
      throw new SnapshotError(`vmstate: unknown section kind 0x${kind.toString(16)} at byte ${r.pos - 1}`);
    }
  }
  if (r.left !== 0) throw new SnapshotError(`vmstate: ${r.left} bytes after the end section`);
  if (!seenMachine) throw new SnapshotError('vmstate: no machine section');
  if (ramBytes < 0) throw new SnapshotError('vmstate: no RAM section');
  return { machine, components, ramBytes, ramRuns };
}
