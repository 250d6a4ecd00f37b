/**
 * One gdb connection: the GDB remote protocol (GDB manual, Appendix E) in all-stop mode over
 * a Machine with one CPU (thread 1).
 *
 * Implemented: `?`, `g`/`G`, `p`/`P`, `m`/`M`/`X` (linear addresses through the CPU's paging,
 * no side effects: src/machine/debug-access.ts, debug-write.ts), `Z0`/`z0` software and
 * `Z1`/`z1` hardware breakpoints (compared by the run loop, never written into guest memory),
 * `Z2`/`Z3`/`Z4` write/read/access watchpoints, `c`/`C`/`s`/`S`, `vCont` (`c`, `C`, `s`, `S`
 * for our one thread), Ctrl-C (0x03), `qSupported`, `qXfer:features:read:target.xml`,
 * `qAttached`, `qC`, `qfThreadInfo`/`qsThreadInfo`, `qRcmd` (HMP commands: gdb's `monitor`),
 * `QStartNoAckMode`, `H`, `T`, `D` (detach: breakpoints removed, the VM resumes) and `k`
 * (kill: pcvm quits, as QEMU does). Anything else gets the empty reply ("not supported").
 *
 * As QEMU's gdbstub, the VM stops when gdb connects, and every later stop of the VM while gdb
 * waits for one (a breakpoint, a watchpoint, a step, Ctrl-C, the monitor's `stop`) is
 * reported: T05 for debug events (with `watch:`/`rwatch:`/`awatch:` and, when gdb supports
 * them, `swbreak:`/`hwbreak:`), T02 (SIGINT) otherwise; W with the exit status when the VM ends.
 *
 * Target description: chosen when gdb connects, from the CPU's mode then — x86-64 in IA-32e
 * mode, i386 otherwise — so that gdb disassembles and unwinds the code that is running. gdb
 * reads the description once per connection; a guest that enters long mode while gdb is
 * attached keeps the i386 layout (registers truncated to 32 bits) until gdb reconnects.
 * XXX: QEMU's qemu-system-x86_64 always announces x86-64 and zero-extends 32-bit registers;
 * pcvm's choice avoids gdb's "set architecture i386" dance for 32-bit guests.
 */
import type { Machine } from '../machine/machine.js';
import type { DebugStop, WatchKind } from '../machine/debugger.js';
import { writeVirtualDebug } from '../machine/debug-write.js';
import { runHmpCommand } from '../monitor/hmp.js';
import { GdbPacketReader, framePacket, fromHex, textToHex, toHex } from './packet.js';
import { GdbRegisterFile, type GdbArch } from './registers.js';

/** The largest packet we accept (advertised as PacketSize, in hex). */
const PACKET_SIZE = 0x4000;
/** Largest memory read per `m` packet (two hex digits per byte must fit in a reply). */
const MAX_MEMORY_READ = (PACKET_SIZE - 16) / 2;

const SIGINT = 2;
const SIGTRAP = 5;

/** Register files are immutable descriptions: one per architecture is enough. */
const REGISTER_FILES: Record<GdbArch, GdbRegisterFile> = {
  i386: new GdbRegisterFile('i386'),
  'x86-64': new GdbRegisterFile('x86-64'),
};

export class GdbSession {
  private readonly reader = new GdbPacketReader();
  private noAck = false;
  /** gdb waits for a stop reply (after c/s/vCont). */
  private running = false;
  private gdbSwBreak = false;
  private gdbHwBreak = false;
  private readonly regs: GdbRegisterFile;
  private closed = false;
  private lastSent: Buffer | undefined;
  private readonly onStop = () => this.vmStopped();
  private readonly onExit = (status: number) => this.vmExited(status);

  constructor(private readonly machine: Machine, private readonly send: (data: Uint8Array) => void) {
    this.regs = REGISTER_FILES[machine.cpu.lma ? 'x86-64' : 'i386'];
    machine.on('stop', this.onStop);
    machine.on('exit', this.onExit);
    // QEMU stops the VM when gdb attaches (gdb_chr_event: vm_stop on CHR_EVENT_OPENED).
    machine.stop();
  }

  /** The register layout this session announced. */
  get arch(): GdbArch {
    return this.regs.arch;
  }

  /** The peer went away: drop breakpoints so that the VM does not stop for nobody. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.machine.off('stop', this.onStop);
    this.machine.off('exit', this.onExit);
    this.machine.debugger.clearAll();
  }

  receive(data: Uint8Array): void {
    for (const input of this.reader.push(data)) {
      switch (input.kind) {
        case 'interrupt':
          // Ctrl-C: stop the VM; the stop event sends T02.
          if (this.running) this.machine.stop();
          break;
        case 'nack':
          if (!this.noAck && this.lastSent) this.send(this.lastSent);
          break;
        case 'bad':
          if (!this.noAck) this.send(Buffer.from('-'));
          break;
        case 'ack':
          break;
        case 'packet':
          if (!this.noAck) this.send(Buffer.from('+'));
          this.handle(input.payload);
          break;
      }
    }
  }

  private reply(payload: string): void {
    const framed = framePacket(payload);
    this.lastSent = framed;
    this.send(framed);
  }

  private handle(p: string): void {
    if (this.closed) return;
    const cmd = p[0];
    switch (cmd) {
      case '?': return this.reply(this.stopReply(this.machine.debugger.lastStop));
      case 'g': return this.reply(toHex(this.regs.readAll(this.machine.cpu)));
      case 'G': {
        const bytes = fromHex(p.slice(1));
        return this.reply(bytes && this.regs.writeAll(this.machine.cpu, bytes) ? 'OK' : 'E22');
      }
      case 'p': {
        const v = this.regs.read(this.machine.cpu, parseInt(p.slice(1), 16));
        return this.reply(v ? toHex(v) : 'E45');
      }
      case 'P': {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]*)$/.exec(p);
        const bytes = m && fromHex(m[2]!);
        return this.reply(m && bytes && this.regs.write(this.machine.cpu, parseInt(m[1]!, 16), bytes) ? 'OK' : 'E22');
      }
      case 'm': return this.readMemory(p);
      case 'M': return this.writeMemory(p);
      case 'X': return this.writeMemoryBinary(p);
      case 'Z': case 'z': return this.breakpoint(p);
      case 'c': case 'C': return this.resume(false);
      case 's': case 'S': return this.resume(true);
      case 'v': return this.vPacket(p);
      case 'q': return this.query(p);
      case 'Q':
        if (p === 'QStartNoAckMode') {
          this.reply('OK');
          this.noAck = true;
          return;
        }
        return this.reply('');
      case 'H': case 'T':
        // One thread (1); "any" (0) and "all" (-1) mean it too.
        return this.reply(/^[HT][a-z]?(-1|0|1|p1\.1|p1\.-1)?$/.test(p) || p.startsWith('T1') ? 'OK' : 'E22');
      case 'D':
        this.machine.debugger.clearAll();
        this.reply('OK');
        this.running = false;
        this.close();
        this.machine.cont();
        return;
      case 'k':
        this.close();
        this.machine.quit();
        return;
      default:
        return this.reply('');
    }
  }

  // ============================================================================================
  // Execution

  private resume(step: boolean): void {
    const m = this.machine;
    if (m.exited) {
      this.reply('W00');
      return;
    }
    if (step) m.debugger.armStep();
    this.running = true;
    if (m.runState === 'running') return;
    m.cont();
  }

  private vmStopped(): void {
    if (!this.running) return;
    this.running = false;
    this.reply(this.stopReply(this.machine.debugger.lastStop));
  }

  private vmExited(status: number): void {
    // The exit status the CLI would give, truncated to gdb's 8 bits.
    this.reply(`W${(status & 0xff).toString(16).padStart(2, '0')}`);
    this.running = false;
    this.close();
  }

  private stopReply(stop: DebugStop | undefined): string {
    if (!stop) return `T${hex2(SIGINT)}thread:01;`;
    let reason = '';
    if (stop.kind === 'watch') {
      const name: Record<WatchKind, string> = { write: 'watch', read: 'rwatch', access: 'awatch' };
      reason = `${name[stop.watch]}:${stop.address.toString(16)};`;
    } else if (stop.kind === 'breakpoint') {
      if (stop.hardware ? this.gdbHwBreak : this.gdbSwBreak) reason = stop.hardware ? 'hwbreak:;' : 'swbreak:;';
    }
    return `T${hex2(SIGTRAP)}${reason}thread:01;`;
  }

  private vPacket(p: string): void {
    if (p === 'vCont?') return this.reply('vCont;c;C;s;S');
    if (p.startsWith('vCont;')) {
      // Actions apply to the first thread they match; ours is the only one.
      const actions = p.slice(6).split(';');
      for (const a of actions) {
        const [action, thread] = a.split(':');
        if (thread !== undefined && !/^(-1|0*1|p1\.(1|-1))$/.test(thread)) continue;
        const kind = action?.[0];
        if (kind === 'c' || kind === 'C') return this.resume(false);
        if (kind === 's' || kind === 'S') return this.resume(true);
        return this.reply('E22');
      }
      return this.reply('E22');
    }
    if (p === 'vMustReplyEmpty') return this.reply('');
    if (p.startsWith('vKill')) {
      this.reply('OK');
      this.close();
      this.machine.quit();
      return;
    }
    return this.reply('');
  }

  // ============================================================================================
  // Queries

  private query(p: string): void {
    if (p.startsWith('qSupported')) {
      const features = p.split(':')[1]?.split(';') ?? [];
      this.gdbSwBreak = features.includes('swbreak+');
      this.gdbHwBreak = features.includes('hwbreak+');
      return this.reply(`PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+`);
    }
    if (p.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]+):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
      if (!m) return this.reply('E00');
      if (m[1] !== 'target.xml') return this.reply('E00');
      const xml = this.regs.targetXml;
      const off = parseInt(m[2]!, 16);
      const len = Math.min(parseInt(m[3]!, 16), PACKET_SIZE - 16);
      if (off > xml.length) return this.reply('E16');
      const chunk = xml.slice(off, off + len);
      return this.reply((off + len >= xml.length ? 'l' : 'm') + chunk);
    }
    if (p === 'qAttached' || p.startsWith('qAttached:')) return this.reply('1');
    if (p === 'qC') return this.reply('QC1');
    if (p === 'qfThreadInfo') return this.reply('m1');
    if (p === 'qsThreadInfo') return this.reply('l');
    if (p.startsWith('qThreadExtraInfo,')) return this.reply(textToHex('CPU#0 [' + (this.machine.runState === 'running' ? 'running' : 'halted ') + ']'));
    if (p === 'qSymbol::') return this.reply('OK');
    if (p.startsWith('qRcmd,')) {
      const line = Buffer.from(p.slice(6), 'hex').toString('utf8');
      const out = runHmpCommand(this.machine, line);
      // Output comes as O packets (console output), then OK.
      if (out) this.reply('O' + textToHex(out.endsWith('\n') ? out : out + '\n'));
      return this.reply('OK');
    }
    return this.reply('');
  }

  // ============================================================================================
  // Memory and breakpoints

  private readMemory(p: string): void {
    const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    if (!m) return this.reply('E22');
    const len = Math.min(parseInt(m[2]!, 16), MAX_MEMORY_READ);
    const bytes = this.machine.readVirtual(BigInt('0x' + m[1]!), len);
    this.reply(bytes ? toHex(bytes) : 'E14');
  }

  private writeMemory(p: string): void {
    const m = /^M([0-9a-fA-F]+),([0-9a-fA-F]+):([0-9a-fA-F]*)$/.exec(p);
    const bytes = m && fromHex(m[3]!);
    if (!m || !bytes || bytes.length !== parseInt(m[2]!, 16)) return this.reply('E22');
    this.reply(writeVirtualDebug(this.machine.cpu, BigInt('0x' + m[1]!), bytes) ? 'OK' : 'E14');
  }

  private writeMemoryBinary(p: string): void {
    const colon = p.indexOf(':');
    const m = /^X([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p.slice(0, colon));
    if (colon < 0 || !m) return this.reply('E22');
    const bytes = Buffer.from(p.slice(colon + 1), 'latin1');
    if (bytes.length !== parseInt(m[2]!, 16)) return this.reply('E22');
    if (bytes.length === 0) return this.reply('OK'); // gdb probes X support with a 0-byte write
    this.reply(writeVirtualDebug(this.machine.cpu, BigInt('0x' + m[1]!), new Uint8Array(bytes)) ? 'OK' : 'E14');
  }

  private breakpoint(p: string): void {
    const m = /^([Zz])([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)/.exec(p);
    if (!m) return this.reply('E22');
    const insert = m[1] === 'Z';
    const type = Number(m[2]);
    const dbg = this.machine.debugger;
    const address = dbg.linearOf(BigInt('0x' + m[3]!));
    const kind = parseInt(m[4]!, 16);
    let ok: boolean;
    if (type === 0 || type === 1) {
      ok = insert ? dbg.insertBreakpoint(address, type === 1) : (dbg.removeBreakpoint(address, type === 1), true);
    } else {
      const watch: WatchKind = type === 2 ? 'write' : type === 3 ? 'read' : 'access';
      ok = insert ? dbg.insertWatchpoint(address, kind, watch) : (dbg.removeWatchpoint(address, kind, watch), true);
    }
    this.reply(ok ? 'OK' : 'E22');
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
