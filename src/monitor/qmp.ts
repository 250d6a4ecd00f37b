/**
 * QMP, the JSON machine protocol (QEMU docs/interop/qmp-spec.rst), over MachineControl and the
 * HMP command table. One QmpSession per client connection: it sends the greeting, refuses
 * everything but `qmp_capabilities` until negotiation, then runs commands and forwards the
 * machine's events (STOP, RESUME, RESET, SHUTDOWN, POWERDOWN) with QEMU's shapes.
 *
 * Transport-neutral: the owner feeds received text to `receive` and gets each outgoing JSON
 * object (CRLF-terminated, as QEMU sends them) through `send`.
 */
import type { Machine } from '../machine/machine.js';
import type { ShutdownReason } from '../machine/control.js';
import { runHmpCommand } from './hmp.js';
import { JsonStreamSplitter } from './json-stream.js';

/** The QEMU release whose QMP interface pcvm follows (the greeting's `version.qemu`). */
export const QMP_QEMU_VERSION = { micro: 0, minor: 2, major: 8 } as const;

type ArgType = 'string' | 'int' | 'bool' | 'any';

interface QmpCommand {
  /** Argument name → [type, optional]. */
  args: Record<string, readonly [ArgType, boolean]>;
  run(session: QmpSession, args: Record<string, unknown>): unknown;
}

class QmpError extends Error {
  constructor(readonly errorClass: string, desc: string) {
    super(desc);
  }
}

const COMMANDS: Record<string, QmpCommand> = {
  qmp_capabilities: {
    args: { enable: ['any', true] },
    run(session, args) {
      if (session.negotiated) {
        throw new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored');
      }
      if (args['enable'] !== undefined) {
        const list = args['enable'];
        if (!Array.isArray(list)) throw new QmpError('GenericError', "Invalid parameter type for 'enable', expected: array");
        for (const cap of list) throw new QmpError('GenericError', `Capability '${String(cap)}' not available`);
      }
      session.negotiated = true;
      return {};
    },
  },
  'query-status': {
    args: {},
    run: (s) => {
      const st = s.machine.status();
      return { running: st.running, status: st.state };
    },
  },
  'query-version': { args: {}, run: (s) => ({ qemu: { ...QMP_QEMU_VERSION }, package: `pcvm ${s.machine.version}` }) },
  'query-name': { args: {}, run: (s) => (s.machine.config.name ? { name: s.machine.config.name } : {}) },
  'query-commands': { args: {}, run: () => Object.keys(COMMANDS).map((name) => ({ name })) },
  'query-cpus-fast': {
    args: {},
    run: () => [{
      'thread-id': process.pid,
      props: { 'core-id': 0, 'thread-id': 0, 'socket-id': 0 },
      'qom-path': '/machine/unattached/device[0]',
      'cpu-index': 0,
      target: 'x86_64',
    }],
  },
  'query-block': { args: {}, run: (s) => s.machine.queryBlock() },
  stop: { args: {}, run: (s) => (s.machine.stop(), {}) },
  cont: { args: {}, run: (s) => (s.machine.cont(), {}) },
  system_reset: { args: {}, run: (s) => (s.machine.reset(), {}) },
  system_powerdown: { args: {}, run: (s) => (s.machine.powerdown(), {}) },
  quit: {
    args: {},
    run(s) {
      // The reply goes out before the machine ends (QEMU answers, then sends SHUTDOWN).
      queueMicrotask(() => s.machine.quit());
      return {};
    },
  },
  'human-monitor-command': {
    args: { 'command-line': ['string', false], 'cpu-index': ['int', true] },
    run(s, args) {
      const out = runHmpCommand(s.machine, args['command-line'] as string);
      return out === '' ? '' : out.split('\n').map((l) => `${l}\r\n`).join('');
    },
  },
};

const EVENT_NAMES = ['stop', 'resume', 'reset', 'shutdown', 'powerdown'] as const;

export class QmpSession {
  negotiated = false;
  private readonly splitter = new JsonStreamSplitter();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter listener type
  private readonly listeners: [string, (...a: any[]) => void][] = [];
  private closed = false;

  constructor(readonly machine: Machine, private readonly send: (text: string) => void) {}

  /** Sends the greeting and starts forwarding events (they are held back until negotiation). */
  start(): void {
    this.emit({ QMP: { version: { qemu: { ...QMP_QEMU_VERSION }, package: `pcvm ${this.machine.version}` }, capabilities: [] } });
    const on = <A extends unknown[]>(name: (typeof EVENT_NAMES)[number], fn: (...a: A) => void) => {
      const f = fn as unknown as (...a: unknown[]) => void;
      this.machine.on(name, f);
      this.listeners.push([name, f]);
    };
    on('stop', () => this.event('STOP'));
    on('resume', () => this.event('RESUME'));
    on('powerdown', () => this.event('POWERDOWN'));
    on('reset', (guest: boolean) => this.event('RESET', { guest, reason: guest ? 'guest-reset' : 'host-qmp-system-reset' }));
    on('shutdown', (guest: boolean, reason: ShutdownReason) => this.event('SHUTDOWN', { guest, reason }));
  }

  /** Stops forwarding events; further input is ignored. */
  close(): void {
    this.closed = true;
    for (const [name, f] of this.listeners) this.machine.off(name, f);
    this.listeners.length = 0;
  }

  /** Feeds received text (any chunking). */
  receive(text: string): void {
    if (this.closed) return;
    for (const item of this.splitter.feed(text)) {
      if ('error' in item) this.emit({ error: { class: 'GenericError', desc: item.error } });
      else this.execute(item.value);
    }
  }

  private execute(req: unknown): void {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      this.emit({ error: { class: 'GenericError', desc: 'QMP input must be a JSON object' } });
      return;
    }
    const r = req as Record<string, unknown>;
    const hasId = 'id' in r;
    const reply = (body: Record<string, unknown>) => this.emit(hasId ? { ...body, id: r['id'] } : body);
    try {
      for (const key of Object.keys(r)) {
        if (key !== 'execute' && key !== 'arguments' && key !== 'id') throw new QmpError('GenericError', `QMP input member '${key}' is unexpected`);
      }
      if (!('execute' in r)) throw new QmpError('GenericError', "QMP input lacks member 'execute'");
      const name = r['execute'];
      if (typeof name !== 'string') throw new QmpError('GenericError', "QMP input member 'execute' must be a string");
      const args = r['arguments'] ?? {};
      if (typeof args !== 'object' || args === null || Array.isArray(args)) {
        throw new QmpError('GenericError', "QMP input member 'arguments' must be an object");
      }
      const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
      if (!this.negotiated && name !== 'qmp_capabilities') {
        throw new QmpError('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
      }
      if (!cmd) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
      checkArgs(cmd, args as Record<string, unknown>);
      reply({ return: cmd.run(this, args as Record<string, unknown>) });
    } catch (e) {
      // A failing command never takes the session (or pcvm) down: QEMU answers GenericError.
      if (e instanceof QmpError) reply({ error: { class: e.errorClass, desc: e.message } });
      else reply({ error: { class: 'GenericError', desc: e instanceof Error ? e.message : String(e) } });
    }
  }

  private event(name: string, data?: Record<string, unknown>): void {
    if (!this.negotiated || this.closed) return;
    const now = Date.now();
    const timestamp = { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 };
    // QEMU's member order: timestamp, event, data.
    this.emit(data ? { timestamp, event: name, data } : { timestamp, event: name });
  }

  private emit(obj: unknown): void {
    this.send(`${JSON.stringify(obj)}\r\n`);
  }
}

function checkArgs(cmd: QmpCommand, args: Record<string, unknown>): void {
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(cmd.args, key)) throw new QmpError('GenericError', `Parameter '${key}' is unexpected`);
  }
  for (const [key, [type, optional]] of Object.entries(cmd.args)) {
    const v = args[key];
    if (v === undefined) {
      if (!optional) throw new QmpError('GenericError', `Parameter '${key}' is missing`);
      continue;
    }
    const ok = type === 'any' || (type === 'string' ? typeof v === 'string' : type === 'bool' ? typeof v === 'boolean' : Number.isInteger(v));
    if (!ok) throw new QmpError('GenericError', `Invalid parameter type for '${key}', expected: ${type === 'int' ? 'integer' : type === 'bool' ? 'boolean' : type}`);
  }
}
