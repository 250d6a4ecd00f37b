/**
 * The library API: `import { Machine } from 'pcvm'` for boot-test scripts and tools.
 *
 * A library Machine is the CLI's machine without the terminal: its options are turned into
 * the same command line the `pcvm` command parses (src/cli/options.ts) and built by the same
 * code (src/cli/machine-from-options.ts), so every option means exactly what it means on the
 * command line and is refused with the same message. COM1 is captured in memory: scripts
 * wait for its text and type into it. The monitor (HMP text) and QMP are served in-process.
 *
 * Several Machines in one process are independent (nothing here is global); `close()`
 * releases everything a Machine holds (its run loop, files, sockets, the gdbstub).
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Machine as Board } from '../machine/machine.js';
import type { ShutdownReason } from '../machine/control.js';
import { BufferedCharBackend } from '../chardev/chardev.js';
import { parseCommandLine } from '../cli/options.js';
import { machineFromOptions, type HostSetup } from '../cli/machine-from-options.js';
import { runHmpCommand } from '../monitor/hmp.js';
import { QmpSession } from '../monitor/qmp.js';
import { GdbServer } from '../gdb/gdb-server.js';
import { LineLogger } from '../machine/log.js';
import { ConsoleTranscript } from './console-transcript.js';
import { buildCommandLine, type MachineOptions } from './options.js';
import { startWithSavedState } from '../cli/start-with-saved-state.js';

export type { MachineOptions } from './options.js';

/** What `waitForSerial` found. */
export interface SerialMatch {
  /** The matched text (`match[0]`). */
  text: string;
  /** The RegExp match (a string pattern is matched literally). */
  match: RegExpExecArray;
  /** Console text from where the wait started up to the end of the match. */
  before: string;
}

/** `waitForSerial` gave up: the pattern did not appear in time, or the VM ended first. */
export class SerialTimeoutError extends Error {
  constructor(message: string, readonly lastLines: string[]) {
    super(message);
    this.name = 'SerialTimeoutError';
  }
}

/** A QMP command answered with an error. */
export class QmpCommandError extends Error {
  constructor(readonly errorClass: string, desc: string) {
    super(desc);
    this.name = 'QmpCommandError';
  }
}

export interface LibraryMachineEvents {
  /** Text the guest wrote to COM1. */
  serial: (text: string) => void;
  stop: () => void;
  resume: () => void;
  reset: (guest: boolean) => void;
  shutdown: (guest: boolean, reason: ShutdownReason) => void;
  /** The VM is over, with the status the `pcvm` command would exit with. */
  exit: (status: number, reason: string) => void;
}

const DEFAULT_WAIT_MS = 30_000;

export class Machine extends EventEmitter {
  /** The board itself, for what the library does not wrap (tests, tools). */
  readonly board: Board;
  /** Everything the guest wrote to COM1 (the transcript waitForSerial searches). */
  readonly console = new ConsoleTranscript();
  /** Resolves with the exit status the `pcvm` command would give when the VM ends. */
  readonly exitStatus: Promise<number>;

  private readonly setup: HostSetup;
  private readonly serialPort: LibrarySerial;
  private readonly gdbSpec: ReturnType<typeof parseCommandLine>['gdb'];
  private readonly savedState: Pick<ReturnType<typeof parseCommandLine>, 'incoming' | 'loadvm'>;
  private qmpSession: QmpSession | undefined;
  private qmpBuffer = '';
  private readonly qmpWaiters = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private qmpNextId = 1;
  private started = false;
  private closed = false;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly forward: [string, (...args: unknown[]) => void][] = [];

  /** Builds the machine (files are read now; a bad option throws a ConfigError). */
  constructor(options: MachineOptions = {}) {
    super();
    const opts = parseCommandLine(buildCommandLine(options));
    this.gdbSpec = opts.gdb;
    this.savedState = { incoming: opts.incoming, loadvm: opts.loadvm };
    const sink = options.log;
    // Only a stdio serial (options.extraArgs) would write to this stream: discard it.
    const nowhere = new Writable({ write: (_c, _e, cb) => cb() });
    const setup = machineFromOptions(opts, nowhere);
    if (opts.logFile === undefined && sink && setup.log instanceof LineLogger) setup.log.setSink(sink);
    this.setup = setup;
    this.serialPort = new LibrarySerial((text) => {
      this.console.append(text);
      this.emit('serial', text);
    });
    setup.serial[0] = this.serialPort;
    // The drives and netdevs the options opened back the virtio functions, as in the CLI.
    this.board = new Board(setup.config, { serial: setup.serial, log: setup.log, drives: setup.virtio.drives, netdevs: setup.virtio.netdevs });
    setup.virtio.bindClock(this.board.clock);
    this.exitStatus = this.board.waitForExit();
    for (const ev of ['stop', 'resume', 'reset', 'shutdown', 'exit'] as const) {
      const f = (...args: unknown[]) => this.emit(ev, ...args);
      this.forward.push([ev, f]);
      this.board.on(ev, f as never);
    }
    // A halted guest with no timer leaves Node's event loop empty; keep the process alive
    // while the machine lives (unref'd once it is over).
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.board.once('exit', () => this.release());
  }

  /**
   * Starts the guest (or, with `startStopped`, waits for `cont()`), after opening the gdbstub
   * and the netdevs. `-incoming`/`-loadvm` in `args` restore their state first, as the CLI
   * does; a state that does not load rejects with a SnapshotError (the guest has not run).
   */
  async start(): Promise<void> {
    if (this.closed) throw new Error('pcvm: Machine.start() after close()');
    if (this.started) return;
    this.started = true;
    await Promise.all(this.setup.virtio.netdevs.map((n) => n.ready));
    if (this.gdbSpec) await GdbServer.open(this.board, this.gdbSpec, 'gdb');
    startWithSavedState(this.board, this.savedState);
  }

  /**
   * Waits until COM1's output, from where the previous successful wait ended, matches
   * `pattern` (a RegExp, or a string matched literally); the next wait starts after the
   * match. Rejects with a SerialTimeoutError after `timeoutMs` or when the VM ends first.
   */
  waitForSerial(pattern: RegExp | string, { timeoutMs = DEFAULT_WAIT_MS }: { timeoutMs?: number } = {}): Promise<SerialMatch> {
    const re = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.console.matchFromCursor(re);
        if (!found) return false;
        done();
        resolve(found);
        return true;
      };
      const onExit = (status: number) => {
        if (check()) return;
        done();
        reject(new SerialTimeoutError(`the VM ended (status ${status}) before ${re} appeared on the console`, this.console.lastLines(50)));
      };
      const onData = () => void check();
      const timer = setTimeout(() => {
        if (check()) return;
        done();
        reject(new SerialTimeoutError(`${re} did not appear on the console within ${timeoutMs} ms`, this.console.lastLines(50)));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.off('serial', onData);
        this.board.off('exit', onExit);
      };
      this.on('serial', onData);
      this.board.on('exit', onExit);
      if (this.board.exited) onExit(0);
      else check();
    });
  }

  /** Types `text` on COM1 (as UTF-8 bytes). */
  writeSerial(text: string): void {
    this.serialPort.pushInput(new Uint8Array(Buffer.from(text, 'utf8')));
  }

  /** Runs an HMP command line and returns its output, as the `(qemu)` prompt would print it. */
  async monitor(command: string): Promise<string> {
    return runHmpCommand(this.board, command);
  }

  /**
   * Runs a QMP command and resolves with its `return` value; rejects with a QmpCommandError
   * carrying QEMU's error class and description.
   */
  qmp(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const session = this.qmp_();
    const id = this.qmpNextId++;
    return new Promise((resolve, reject) => {
      this.qmpWaiters.set(id, { resolve, reject });
      session.receive(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }));
    });
  }

  /** Pauses the VM (HMP `stop`). */
  stop(): void {
    this.board.stop();
  }

  /** Resumes it (HMP `cont`). */
  cont(): void {
    this.board.cont();
  }

  /** HMP `savevm TAG`: resolves with the monitor's output ('' on success, else its error). */
  savevm(tag: string): Promise<string> {
    return this.monitor(`savevm ${tag}`);
  }

  /** HMP `loadvm TAG`: resolves with the monitor's output ('' on success, else its error). */
  loadvm(tag: string): Promise<string> {
    return this.monitor(`loadvm ${tag}`);
  }

  /** The run state as `info status` names it (running, paused, prelaunch, shutdown…). */
  get runState(): string {
    return this.board.runState;
  }

  /** The gdbstub's TCP port (with `gdb: 'tcp::0'`, the one the system chose). */
  get gdbPort(): number | undefined {
    return GdbServer.of(this.board)?.port;
  }

  /**
   * Ends the VM if it still runs (as `quit`: exit status 0) and releases everything: run
   * loop, files, sockets, the gdbstub. Pending waits are rejected.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.board.exited) this.board.quit();
    this.release();
    this.board.close();
    await this.exitStatus;
  }

  private release(): void {
    clearInterval(this.keepAlive);
    GdbServer.of(this.board)?.close();
    this.qmpSession?.close();
    this.qmpSession = undefined;
    for (const w of this.qmpWaiters.values()) w.reject(new Error('pcvm: the machine was closed'));
    this.qmpWaiters.clear();
    this.setup.close();
    for (const [ev, f] of this.forward.splice(0)) this.board.off(ev, f as never);
  }

  /** The in-process QMP session, negotiated on first use. */
  private qmp_(): QmpSession {
    if (this.qmpSession) return this.qmpSession;
    const session = new QmpSession(this.board, (text) => this.qmpOutput(text));
    this.qmpSession = session;
    session.start();
    session.receive('{"execute":"qmp_capabilities"}');
    return session;
  }

  private qmpOutput(text: string): void {
    this.qmpBuffer += text;
    let nl;
    while ((nl = this.qmpBuffer.indexOf('\n')) >= 0) {
      const line = this.qmpBuffer.slice(0, nl).trim();
      this.qmpBuffer = this.qmpBuffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as { id?: number; return?: unknown; error?: { class: string; desc: string }; event?: string };
      if (msg.id === undefined) continue; // the greeting, the negotiation and events
      const w = this.qmpWaiters.get(msg.id);
      if (!w) continue;
      this.qmpWaiters.delete(msg.id);
      if (msg.error) w.reject(new QmpCommandError(msg.error.class, msg.error.desc));
      else w.resolve(msg.return);
    }
  }

  override on<E extends keyof LibraryMachineEvents>(event: E, listener: LibraryMachineEvents[E]): this {
    return super.on(event, listener);
  }
  override once<E extends keyof LibraryMachineEvents>(event: E, listener: LibraryMachineEvents[E]): this {
    return super.once(event, listener);
  }
  override off<E extends keyof LibraryMachineEvents>(event: E, listener: LibraryMachineEvents[E]): this {
    return super.off(event, listener);
  }
}

/** COM1 in a library machine: output to the transcript, input from writeSerial. */
class LibrarySerial extends BufferedCharBackend {
  private readonly decoder = new TextDecoder('utf-8');
  constructor(private readonly onText: (text: string) => void) {
    super();
  }
  write(data: Uint8Array): void {
    const text = this.decoder.decode(data, { stream: true });
    if (text) this.onText(text);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
