/**
 * A seeded mutation fuzzer over saved machine-state streams: truncations, flipped bytes in the
 * compressed stream, flipped bytes in the inflated body (recompressed, so that the section
 * parser sees them), and field-level mutations inside component states (out-of-range numbers,
 * wrong types, missing keys, wrong array lengths). Every mutated stream must either load or be
 * refused with a SnapshotError — never another exception — and a refused stream must leave
 * the running machine byte for byte as it was.
 */
import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/errors.js';
import { loadVmState, saveVmState } from '../../src/snapshot/machine-state.js';
import { VMSTATE_HEADER_BYTES } from '../../src/snapshot/vmstate-stream.js';
import { runUntil, ticksMachine, type TicksMachine } from './ticks-guest.js';
import { closeStream, openStream, streamBody } from './stream-mutation.js';

/** mulberry32: a small seeded PRNG, so a failure reproduces from its iteration number. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD_VALUES: unknown[] = [
  -1, -0x80000001, 0x100000000, 2 ** 53, -(2 ** 53), 1.5, 0.1, null, 'x', '', true, false, {}, [], [1, 2, 3],
  new Array(300).fill(0), Number.MAX_SAFE_INTEGER, 256, 65536, 0x7fffffff,
];

/** Every leaf path of a plain-data value. */
function leaves(v: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, [...path, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) leaves(x, [...path, k], out);
  else out.push(path);
  return out;
}

function setPath(root: unknown, path: (string | number)[], value: unknown, remove: boolean): void {
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) {
    const next = o[k];
    // An earlier mutation may have replaced a parent with a scalar: nothing left to change.
    if (next === null || typeof next !== 'object') return;
    o = next as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (remove && !Array.isArray(o)) delete o[last];
  else o[last] = value;
}

let saved: Uint8Array;
let body: Uint8Array;

/** 4 MiB of RAM keeps each of the hundreds of encodes and loads quick. */
const SMALL = { memoryBytes: 4 * 1024 * 1024 };

beforeAll(() => {
  const src = ticksMachine(SMALL);
  runUntil(src.m, 700_000);
  saved = saveVmState(src.m);
  body = streamBody(saved);
});

function withBody(b: Uint8Array): Uint8Array {
  const packed = deflateSync(b, { level: 1 });
  const s = new Uint8Array(VMSTATE_HEADER_BYTES + packed.length);
  s.set(saved.subarray(0, VMSTATE_HEADER_BYTES));
  new DataView(s.buffer).setUint32(12, b.length);
  s.set(packed, VMSTATE_HEADER_BYTES);
  return s;
}

function mutate(rand: () => number): { kind: string; stream: Uint8Array } {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const r = rand();
  if (r < 0.15) return { kind: 'truncate', stream: saved.subarray(0, Math.floor(rand() * saved.length)) };
  if (r < 0.3) {
    const s = saved.slice();
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) s[Math.floor(rand() * s.length)] ^= 1 << Math.floor(rand() * 8);
    return { kind: 'flip-compressed', stream: s };
  }
  if (r < 0.5) {
    // Flip bytes in the section framing and state JSON (the first part of the body), where
    // they reach the parsers rather than RAM contents.
    const b = body.slice();
    const framing = Math.min(b.length, 40_000);
    const n = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) b[Math.floor(rand() * framing)] ^= 1 << Math.floor(rand() * 8);
    return { kind: 'flip-body', stream: withBody(b) };
  }
  const e = openStream(saved);
  const c = pick(e.components);
  const paths = leaves(c.data);
  const n = 1 + Math.floor(rand() * 2);
  for (let i = 0; i < n && paths.length > 0; i++) {
    const path = pick(paths);
    if (rand() < 0.1) setPath(c.data, path.slice(0, -1).length ? path.slice(0, -1) : path, pick(WEIRD_VALUES), false);
    else setPath(c.data, path, pick(WEIRD_VALUES), rand() < 0.1);
  }
  if (rand() < 0.05) c.version = Math.floor(rand() * 10);
  return { kind: `field ${c.id}`, stream: closeStream(e) };
}

describe('machine-state stream fuzzer', () => {
  let t: TicksMachine;
  let before: Uint8Array;

  beforeAll(() => {
    t = ticksMachine(SMALL);
    runUntil(t.m, 300_000);
    before = saveVmState(t.m);
  });

  it('300 seeded mutations: each loads or is refused with a SnapshotError, never disturbing the VM', () => {
    const rand = prng(0x5eed7);
    const counts = { refused: 0, loaded: 0 };
    for (let i = 0; i < 300; i++) {
      const { kind, stream } = mutate(rand);
      try {
        loadVmState(t.m, stream);
        counts.loaded++;
        // A mutation that stayed in range loaded: put the machine back for the next round.
        loadVmState(t.m, before);
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw new Error(`iteration ${i} (${kind}): ${String(e)}`);
        counts.refused++;
        const now = saveVmState(t.m);
        if (Buffer.compare(now, before) !== 0) throw new Error(`iteration ${i} (${kind}): refused, but the machine changed`);
      }
    }
    // The mix must exercise both outcomes, or the fuzzer proves nothing.
    expect(counts.refused).toBeGreaterThan(150);
    expect(counts.loaded).toBeGreaterThan(10);
  });
});
