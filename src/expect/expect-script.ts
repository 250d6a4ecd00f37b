/**
 * Expect scripts for `pcvm-test` (docs/expect.md): JSON with `//` comment lines, validated
 * here into typed steps with messages that name the offending step.
 *
 * A script is an object: `name` (optional), `machine` (the library's MachineOptions, minus
 * the log callback), `timeoutMs` (the default for waiting steps, 30 s if absent) and `steps`.
 * Strings in `machine` may use `${VAR}` (an environment variable, or `SCRIPT_DIR`); file
 * options (`kernel`, `initrd`, `bios`, `logFile`) are relative to the script's directory.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { MachineOptions } from '../library/options.js';

/** A text pattern: a string matches literally; `{ "regex": "…", "flags": "i" }` is a RegExp. */
export type TextPattern = string | { regex: string; flags?: string };

export type ExpectStep =
  /** Wait for console text. */
  | { kind: 'expect'; pattern: TextPattern; timeoutMs?: number; name?: string }
  /** Type text on the console (`sendLine` adds the Enter key, a carriage return). */
  | { kind: 'send'; text: string; name?: string }
  /** Run an HMP command; with `match`, its output must contain it. */
  | { kind: 'monitor'; command: string; match?: TextPattern; name?: string }
  /** Run a QMP command; with `match`, the return value must contain it (a deep subset). */
  | { kind: 'qmp'; command: string; args?: Record<string, unknown>; match?: unknown; name?: string }
  /** HMP savevm / loadvm: passes when the monitor prints nothing (its error otherwise). */
  | { kind: 'savevm' | 'loadvm'; tag: string; name?: string }
  /** Wait for the VM to end and check its exit status (as `pcvm` would exit). */
  | { kind: 'exit'; status: number; timeoutMs?: number; name?: string };

export interface ExpectScript {
  name?: string;
  machine: Omit<MachineOptions, 'log'>;
  timeoutMs: number;
  steps: ExpectStep[];
}

export class ExpectScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpectScriptError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MACHINE_KEYS = new Set([
  'memory', 'kernel', 'initrd', 'append', 'bios', 'cpu', 'accel', 'icount', 'drives', 'netdevs', 'devices',
  'serial', 'fwCfg', 'rtc', 'name', 'startStopped', 'noReboot', 'noShutdown', 'gdb', 'debug', 'logFile', 'args',
]);
const FILE_KEYS = ['kernel', 'initrd', 'bios', 'logFile'] as const;

/** Removes whole-line `//` comments (a JSON string cannot span lines, so none is cut). */
function stripComments(text: string): string {
  return text.split('\n').map((line) => (/^\s*\/\//.test(line) ? '' : line)).join('\n');
}

/**
 * Parses script `text`; `path` is where it came from (for relative files and SCRIPT_DIR),
 * `env` the variables `${VAR}` may name.
 */
export function parseExpectScript(text: string, path: string, env: Record<string, string | undefined> = process.env): ExpectScript {
  let raw: unknown;
  try {
    raw = JSON.parse(stripComments(text));
  } catch (e) {
    throw new ExpectScriptError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) throw new ExpectScriptError(`${path}: the script must be a JSON object`);
  for (const k of Object.keys(raw)) {
    if (!['name', 'machine', 'timeoutMs', 'steps'].includes(k)) throw new ExpectScriptError(`${path}: unknown key '${k}' (name, machine, timeoutMs, steps)`);
  }
  const scriptDir = dirname(resolve(path));
  const vars = { ...env, SCRIPT_DIR: scriptDir };
  const machineRaw = raw['machine'] ?? {};
  if (!isObject(machineRaw)) throw new ExpectScriptError(`${path}: 'machine' must be an object`);
  for (const k of Object.keys(machineRaw)) {
    if (!MACHINE_KEYS.has(k)) throw new ExpectScriptError(`${path}: machine: unknown option '${k}'`);
  }
  const machine = expandVars(machineRaw, vars, `${path}: machine`) as Record<string, unknown>;
  for (const k of FILE_KEYS) {
    const v = machine[k];
    if (typeof v === 'string' && !isAbsolute(v)) machine[k] = resolve(scriptDir, v);
  }
  const timeoutMs = raw['timeoutMs'] ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new ExpectScriptError(`${path}: 'timeoutMs' must be a positive number`);
  const steps = raw['steps'];
  if (!Array.isArray(steps) || steps.length === 0) throw new ExpectScriptError(`${path}: 'steps' must be a non-empty array`);
  const name = raw['name'];
  if (name !== undefined && typeof name !== 'string') throw new ExpectScriptError(`${path}: 'name' must be a string`);
  return {
    name,
    machine: machine as ExpectScript['machine'],
    timeoutMs,
    steps: steps.map((s, i) => parseStep(s, `${path}: step ${i + 1}`)),
  };
}

const STEP_KEYS = ['expect', 'send', 'sendLine', 'monitor', 'qmp', 'savevm', 'loadvm', 'exit'];

function parseStep(raw: unknown, where: string): ExpectStep {
  if (!isObject(raw)) throw new ExpectScriptError(`${where}: a step must be an object`);
  const kinds = Object.keys(raw).filter((k) => STEP_KEYS.includes(k));
  if (kinds.length !== 1) throw new ExpectScriptError(`${where}: a step needs exactly one of ${STEP_KEYS.join(', ')}`);
  const kind = kinds[0]!;
  const allowed: Record<string, string[]> = {
    expect: ['timeoutMs'], send: [], sendLine: [], monitor: ['match'], qmp: ['args', 'match'],
    savevm: [], loadvm: [], exit: ['timeoutMs'],
  };
  for (const k of Object.keys(raw)) {
    if (k !== kind && k !== 'name' && !allowed[kind]!.includes(k)) throw new ExpectScriptError(`${where}: '${kind}' step: unknown key '${k}'`);
  }
  const name = raw['name'];
  if (name !== undefined && typeof name !== 'string') throw new ExpectScriptError(`${where}: 'name' must be a string`);
  const timeoutMs = raw['timeoutMs'];
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) throw new ExpectScriptError(`${where}: 'timeoutMs' must be a positive number`);
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string') throw new ExpectScriptError(`${where}: '${k}' must be a string`);
    return v;
  };
  const opt = { ...(name !== undefined ? { name } : {}) };
  switch (kind) {
    case 'expect':
      return { kind: 'expect', pattern: parsePattern(raw['expect'], `${where}: expect`), ...(timeoutMs !== undefined ? { timeoutMs: timeoutMs as number } : {}), ...opt };
    case 'send':
      return { kind: 'send', text: str('send'), ...opt };
    case 'sendLine':
      return { kind: 'send', text: str('sendLine') + '\r', ...opt };
    case 'monitor':
      return { kind: 'monitor', command: str('monitor'), ...(raw['match'] !== undefined ? { match: parsePattern(raw['match'], `${where}: match`) } : {}), ...opt };
    case 'qmp': {
      const args = raw['args'];
      if (args !== undefined && !isObject(args)) throw new ExpectScriptError(`${where}: 'args' must be an object`);
      return { kind: 'qmp', command: str('qmp'), ...(args ? { args } : {}), ...('match' in raw ? { match: raw['match'] } : {}), ...opt };
    }
    case 'savevm':
    case 'loadvm':
      return { kind, tag: str(kind), ...opt };
    default: {
      const status = raw['exit'];
      if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 255) throw new ExpectScriptError(`${where}: 'exit' must be an exit status 0-255`);
      return { kind: 'exit', status, ...(timeoutMs !== undefined ? { timeoutMs: timeoutMs as number } : {}), ...opt };
    }
  }
}

function parsePattern(v: unknown, where: string): TextPattern {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['regex'] === 'string' && Object.keys(v).every((k) => k === 'regex' || k === 'flags')) {
    const flags = v['flags'];
    if (flags !== undefined && typeof flags !== 'string') throw new ExpectScriptError(`${where}: 'flags' must be a string`);
    try {
      new RegExp(v['regex'], flags);
    } catch (e) {
      throw new ExpectScriptError(`${where}: ${(e as Error).message}`);
    }
    return flags !== undefined ? { regex: v['regex'], flags } : { regex: v['regex'] };
  }
  throw new ExpectScriptError(`${where}: a pattern is a string or { "regex": "…", "flags": "…" }`);
}

/** The RegExp a pattern stands for. */
export function patternRegExp(p: TextPattern): RegExp {
  if (typeof p === 'string') return new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(p.regex, p.flags);
}

/** How a pattern reads in the report. */
export function describePattern(p: TextPattern): string {
  return typeof p === 'string' ? JSON.stringify(p) : `/${p.regex}/${p.flags ?? ''}`;
}

function expandVars(v: unknown, vars: Record<string, string | undefined>, where: string): unknown {
  if (typeof v === 'string') {
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = vars[name];
      if (value === undefined) throw new ExpectScriptError(`${where}: \${${name}} is not set`);
      return value;
    });
  }
  if (Array.isArray(v)) return v.map((x) => expandVars(x, vars, where));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandVars(x, vars, where)]));
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
