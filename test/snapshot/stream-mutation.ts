/**
 * Test helpers that take a machine-state stream apart and put it back together, so that tests
 * can change one field and still produce a well-formed (compressed, sized) stream.
 */
import { inflateSync } from 'node:zlib';
import { decodeVmState, encodeVmState, RAM_PAGE_BYTES, VMSTATE_HEADER_BYTES, type ComponentState } from '../../src/snapshot/vmstate-stream.js';

export interface EditableVmState {
  machine: Record<string, unknown>;
  components: { id: string; version: number; data: unknown }[];
  ram: Uint8Array;
}

export function openStream(stream: Uint8Array): EditableVmState {
  const d = decodeVmState(stream, 1 << 30);
  const ram = new Uint8Array(d.ramBytes);
  for (const r of d.ramRuns) ram.set(r.bytes, r.firstPage * RAM_PAGE_BYTES);
  return {
    machine: structuredClone(d.machine) as Record<string, unknown>,
    components: d.components.map((c) => ({ id: c.id, version: c.version, data: structuredClone(c.data) })),
    ram,
  };
}

export function closeStream(s: EditableVmState): Uint8Array {
  return encodeVmState(s.machine, s.components as ComponentState[], s.ram);
}

/** Decodes, lets `edit` change the parts, encodes again. */
export function editStream(stream: Uint8Array, edit: (s: EditableVmState) => void): Uint8Array {
  const s = openStream(stream);
  edit(s);
  return closeStream(s);
}

/** The inflated body (for byte-level mutations that keep the compression valid). */
export function streamBody(stream: Uint8Array): Uint8Array {
  return inflateSync(stream.subarray(VMSTATE_HEADER_BYTES));
}

export function component(s: EditableVmState, id: string): Record<string, unknown> {
  const c = s.components.find((x) => x.id === id);
  if (!c) throw new Error(`no component ${id}`);
  return c.data as Record<string, unknown>;
}
