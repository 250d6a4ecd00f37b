/**
 * QEMU's `key=value,...` sub-option lists (QemuOpts, `util/qemu-option.c`) and its value
 * syntaxes: booleans, C-style integers, QOM integer properties, sizes with suffixes, `host:port`.
 * Also the small `opt*`/`checkKeys` helpers every option parser uses to read a list.
 * Errors are ConfigErrors in QEMU's wording, without the option prefix.
 */

import { ConfigError } from '../errors.js';

/** One `key=value` element of a sub-option list, in command-line order. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

/** A parsed `key=value,...` list. Repeated keys are kept (`hostfwd=` may appear many times). */
export class KeyValueList {
  constructor(
    /** Every element in order, with short-form booleans already expanded. */
    readonly entries: readonly KeyValue[],
    /** The list asked for help (`help` or `?` as a flag or as the implied first value). */
    readonly helpRequested: boolean,
  ) {}

  /** The last value given for `key` (QemuOpts: a later value overrides an earlier one). */
  get(key: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.key === key) return e.value;
    }
    return undefined;
  }

  /** Every value given for `key`, in order. */
  getAll(key: string): string[] {
    return this.entries.filter((e) => e.key === key).map((e) => e.value);
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  /** The distinct keys, in order of first appearance. */
  keys(): string[] {
    return [...new Set(this.entries.map((e) => e.key))];
  }
}

/** QEMU's `is_help_option`. */
export function isHelpOption(s: string): boolean {
  return s === 'help' || s === '?';
}

/** Reads a value up to the next lone `,`; `,,` is a literal comma. Returns [value, end index]. */
function readValue(text: string, start: number): [string, number] {
  let value = '';
  let p = start;
  while (p < text.length) {
    const c = text[p]!;
    if (c === ',') {
      if (text[p + 1] !== ',') break;
      p++; // ",," is one literal comma
    }
    value += c;
    p++;
  }
  return [value, p];
}

/**
 * Parses a QemuOpts sub-option list (`util/qemu-option.c`, `get_opt_name_value`).
 *
 * - Elements are separated by `,`; inside a value `,,` stands for one literal comma.
 * - With `impliedKey`, a first element without `=` is that key's value
 *   (`isa-debug-exit,iobase=0xf4` → driver=isa-debug-exit).
 * - Elsewhere an element without `=` is a short-form boolean: `server` → server=on and
 *   `nowait` → wait=off (QEMU deprecates but accepts these; old scripts use them).
 * - A flag `help` or `?` sets `helpRequested` instead of adding an entry.
 *
 * Never throws; unknown or empty keys are left for the option's own validation.
 */
export function parseKeyValueList(text: string, impliedKey?: string): KeyValueList {
  const entries: KeyValue[] = [];
  let help = false;
  let p = 0;
  let first = true;
  while (p < text.length) {
    let end = p;
    while (end < text.length && text[end] !== '=' && text[end] !== ',') end++;
    if (text[end] !== '=') {
      if (first && impliedKey !== undefined) {
        const [value, next] = readValue(text, p);
        entries.push({ key: impliedKey, value });
        if (isHelpOption(value)) help = true;
        p = next;
      } else {
        const name = text.slice(p, end);
        if (isHelpOption(name)) help = true;
        else if (name.startsWith('no')) entries.push({ key: name.slice(2), value: 'off' });
        else entries.push({ key: name, value: 'on' });
        p = end;
      }
    } else {
      const [value, next] = readValue(text, end + 1);
      entries.push({ key: text.slice(p, end), value });
      p = next;
    }
    if (text[p] === ',') p++;
    first = false;
  }
  return new KeyValueList(entries, help);
}

/** `-device {"driver":...}`: QEMU's JSON form of a sub-option list, flattened to strings. */
export function keyValueListFromJson(text: string): KeyValueList {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`JSON parse error, ${(e as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError('JSON parse error, expected an object');
  }
  const entries: KeyValue[] = [];
  for (const [key, v] of Object.entries(obj)) {
    if (typeof v === 'string') entries.push({ key, value: v });
    else if (typeof v === 'number') entries.push({ key, value: String(v) });
    else if (typeof v === 'boolean') entries.push({ key, value: v ? 'on' : 'off' });
    else throw new ConfigError(`Parameter '${key}' expects a scalar value`);
  }
  return new KeyValueList(entries, false);
}

/**
 * QEMU's boolean syntax (`qapi_bool_parse`): on/yes/true/y and off/no/false/n.
 * Throws ConfigError `Parameter 'KEY' expects 'on' or 'off'` (no location prefix).
 */
export function parseBool(key: string, value: string): boolean {
  if (value === 'on' || value === 'yes' || value === 'true' || value === 'y') return true;
  if (value === 'off' || value === 'no' || value === 'false' || value === 'n') return false;
  throw new ConfigError(`Parameter '${key}' expects 'on' or 'off'`);
}

/** strtoull(…, 0) syntax: decimal, 0x hex or leading-0 octal, optional leading blanks. */
export function parseCInteger(value: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(value);
  if (!m) return undefined;
  const digits = m[2]!;
  let n: bigint;
  if (/^0[xX]/.test(digits)) n = BigInt(digits);
  else if (digits.length > 1 && digits[0] === '0') n = BigInt('0o' + digits.slice(1));
  else n = BigInt(digits);
  return m[1] === '-' ? -n : n;
}

/**
 * A QemuOpts number (`parse_option_number`): unsigned, decimal, `0x` hex or — as C's strtoull
 * with base 0 — leading-zero octal (`010` is 8). Throws ConfigError in QEMU's wording.
 */
export function parseNumber(key: string, value: string): number {
  const n = parseCInteger(value);
  if (n === undefined || n < 0n) throw new ConfigError(`Parameter '${key}' expects a number`);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ConfigError(`Value '${value}' is too large for parameter '${key}'`);
  }
  return Number(n);
}

/**
 * A QOM integer property (`-device`, `-accel`): like `parseNumber` but range-checked against
 * the property's C type, with QOM's wording (`Parameter 'iobase' expects uint32_t`).
 */
export function parsePropertyInt(key: string, value: string, type: 'uint8' | 'uint16' | 'uint32' | 'uint64'): number {
  const n = parseCInteger(value);
  if (n === undefined) throw new ConfigError(`Parameter '${key}' expects integer`);
  const bits = { uint8: 8n, uint16: 16n, uint32: 32n, uint64: 64n }[type];
  if (n < 0n || n >= 1n << bits) throw new ConfigError(`Parameter '${key}' expects ${type === 'uint64' ? 'uint64' : type + '_t'}`);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(`Value '${value}' is too large for parameter '${key}'`);
  return Number(n);
}

const SIZE_SUFFIXES: Readonly<Record<string, bigint>> = {
  b: 1n, k: 1n << 10n, m: 1n << 20n, g: 1n << 30n, t: 1n << 40n, p: 1n << 50n, e: 1n << 60n,
};

function sizeError(key: string): ConfigError {
  // XXX: QEMU adds a second line ("Optional suffix k, M, G, T, P or E means ..."); folded into
  // the parenthesis so the message stays one line.
  return new ConfigError(`Parameter '${key}' expects a non-negative number below 2^64 (optional suffix k, M, G, T, P or E)`);
}

/**
 * A size in QEMU's syntax (`qemu_strtosz`): decimal or `0x` hex, an optional fraction, and an
 * optional case-insensitive suffix b/k/M/G/T/P/E (powers of 1024; no suffix = bytes). A
 * fraction needs a suffix other than b (`1.5` is an error, `1.5k` is 1536). `1GB` is an error,
 * as in QEMU.
 *
 * XXX: QEMU truncates a fraction that is not a whole number of bytes (`1.0001k` → 1024); pcvm
 * rejects it. Returns a bigint because QEMU's sizes go up to 2^64.
 */
export function parseSizeBig(key: string, text: string): bigint {
  const s = text.replace(/^\s+/, '');
  const hex = /^0[xX]([0-9a-fA-F]+)([kKmMgGtTpP]?)$/.exec(s);
  let bytes: bigint;
  if (hex) {
    bytes = BigInt('0x' + hex[1]!) * (hex[2] ? SIZE_SUFFIXES[hex[2].toLowerCase()]! : 1n);
  } else {
    const m = /^([0-9]+)(?:\.([0-9]+))?([bBkKmMgGtTpPeE]?)$/.exec(s);
    if (!m) throw sizeError(key);
    const mul = m[3] ? SIZE_SUFFIXES[m[3].toLowerCase()]! : 1n;
    bytes = BigInt(m[1]!) * mul;
    if (m[2] !== undefined) {
      if (mul === 1n) throw sizeError(key); // a fraction requires a scale
      const scaled = BigInt(m[2]) * mul;
      const denom = 10n ** BigInt(m[2].length);
      if (scaled % denom !== 0n) throw new ConfigError(`Parameter '${key}' expects a whole number of bytes`);
      bytes += scaled / denom;
    }
  }
  if (bytes >= 1n << 64n) throw sizeError(key);
  return bytes;
}

/** `parseSizeBig` for sizes that must fit a JavaScript number. */
export function parseSize(key: string, text: string): number {
  const n = parseSizeBig(key, text);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(`Value '${text}' is too large for parameter '${key}'`);
  return Number(n);
}

/** QemuOpts' error for a key the option does not know. */
export const invalidParameter = (key: string): string => `Invalid parameter '${key}'`;

/** Rejects keys outside `allowed` with the option's own wording. */
export function checkKeys(kv: KeyValueList, allowed: readonly string[], message: (key: string) => string = invalidParameter): void {
  for (const { key } of kv.entries) {
    if (!allowed.includes(key)) throw new ConfigError(message(key));
  }
}

export function optBool(kv: KeyValueList, key: string, dflt: boolean, shownKey = key): boolean {
  const v = kv.get(key);
  return v === undefined ? dflt : parseBool(shownKey, v);
}

export function optNumber(kv: KeyValueList, key: string): number | undefined {
  const v = kv.get(key);
  return v === undefined ? undefined : parseNumber(key, v);
}

export function optEnum<T extends string>(kv: KeyValueList, key: string, allowed: readonly T[], message: (v: string) => string): T | undefined {
  const v = kv.get(key);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(message(v));
  return v as T;
}

/** `host:port`, `:port` or `[v6addr]:port`; the port must be 0..65535. */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^:]*):([0-9]+)$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(`error parsing ${what} '${text}'`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port: Number(m[2]) };
}
