/**
 * Checks for untrusted saved state. `loadState` implementations read every field through
 * these, so that a truncated, corrupt or hostile stream raises a SnapshotError that names the
 * field, before the device has changed anything.
 */
import { SnapshotError } from '../errors.js';

export type StateRecord = Record<string, unknown>;

/** `value` as an object with string keys, or a SnapshotError naming `what`. */
export function expectRecord(value: unknown, what: string): StateRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SnapshotError(`${what}: expected an object`);
  }
  return value as StateRecord;
}

/** An integer field within `[min, max]`. */
export function expectInt(rec: StateRecord, key: string, min: number, max: number, what = ''): number {
  const v = rec[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new SnapshotError(`${what}${what ? '.' : ''}${key}: expected an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

/** A finite number field within `[min, max]` (times, which may be fractional). */
export function expectNumber(rec: StateRecord, key: string, min: number, max: number, what = ''): number {
  const v = rec[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new SnapshotError(`${what}${what ? '.' : ''}${key}: expected a number in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function expectBool(rec: StateRecord, key: string, what = ''): boolean {
  const v = rec[key];
  if (typeof v !== 'boolean') throw new SnapshotError(`${what}${what ? '.' : ''}${key}: expected a boolean, got ${describe(v)}`);
  return v;
}

/** An array of integers in `[min, max]` of exactly `length` elements (or any length if omitted). */
export function expectIntArray(rec: StateRecord, key: string, min: number, max: number, length?: number, what = ''): number[] {
  const v = rec[key];
  const name = `${what}${what ? '.' : ''}${key}`;
  const items = ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v;
  if (!Array.isArray(items)) throw new SnapshotError(`${name}: expected an array`);
  if (length !== undefined && items.length !== length) {
    throw new SnapshotError(`${name}: expected ${length} elements, got ${items.length}`);
  }
  for (const x of items) {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
      throw new SnapshotError(`${name}: element ${describe(x)} outside [${min}, ${max}]`);
    }
  }
  return items as number[];
}

/** Rejects a state saved by another version of a device when no migration exists. */
export function expectVersion(version: number, supported: number, what: string): void {
  if (version !== supported) {
    throw new SnapshotError(`${what}: state version ${version} is not supported (expected ${supported})`);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v);
  return String(v);
}
