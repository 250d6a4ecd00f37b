/**
 * The monitor's front ends against a real Debian i386 guest, run as a user would: the pcvm
 * command in a real terminal (tmux), with `-websocket` clients (package `ws`) beside it.
 *
 *  - WebSocket /monitor (HMP): `info status`, `stop` (the guest's clock stands still while the
 *    VM is paused, as QEMU's vm_clock does), `cont`, `info registers` in QEMU's layout with a
 *    live EIP inside the kernel's text, `x` and `xp` reading a guest process's bytes at the
 *    kernel-virtual and physical addresses the guest reports for them, and
 *    `system_powerdown` ending the guest through its ACPI power button (busybox acpid).
 *  - WebSocket /qmp: STOP, RESUME, POWERDOWN and SHUTDOWN events in QEMU's shapes.
 *  - /serial: the guest console (read and typed) for the checks above.
 *  - `-nographic` in tmux: C-a c toggles to the `(qemu)` prompt, which answers; C-a x quits.
 *  - `-display tui` in tmux: the guest's prompt and a command's output in the COM1 pane, the
 *    monitor pane answering `info status`.
 *
 * Two boots (one per terminal front end). They run when the guests are built and
 * PCVM_GUEST_TESTS=1 is set, like debian-guests.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { guestFiles, PCVM } from '../../scripts/guest-run.mjs';
import { hasTmux, TmuxSession } from '../helpers/tmux.js';
import { freePort } from '../helpers/free-port.js';

/** A boot under load can take many times the idle ~3.5 minutes. */
const BOOT_MS = 900_000;
const STEP_MS = 120_000;
const EXIT_MARK = 'pcvm-exited-with:';
const guest = process.env.PCVM_GUEST_TESTS === '1' && hasTmux() ? guestFiles('i386') : null;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0).reverse()) f();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(get: () => T | undefined, what: () => string, timeoutMs: number, pollMs = 20): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what()}`);
    await sleep(pollMs);
  }
}

/** pcvm (the binary, so its shebang's V8 flags apply) in tmux; the shell prints its exit status after. */
function pcvmInTmux(args: string[], cols: number, rows: number): TmuxSession {
  const quoted = [PCVM as string, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const t = new TmuxSession(`${quoted}; echo ${EXIT_MARK}$?; sleep 600`, cols, rows);
  cleanups.push(() => t.kill());
  return t;
}

/**
 * Opens `path` on the pcvm WebSocket server, retrying while pcvm is still starting. `onMessage`
 * is attached before the handshake ends: a frame sent right after it (the QMP greeting) can be
 * delivered before the code after an awaited 'open' runs.
 */
async function openSocket(port: number, path: string, onMessage: (data: Buffer) => void): Promise<WebSocket> {
  const t0 = Date.now();
  for (;;) {
    try {
      const ws = await new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
        ws.on('message', onMessage);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
      ws.on('error', () => {});
      cleanups.push(() => ws.terminate());
      return ws;
    } catch (e) {
      if (Date.now() - t0 > 60_000) throw e;
      await sleep(200);
    }
  }
}

/** COM1 over /serial: lines with host timestamps, and typing (the first client is the writer). */
class SerialConsole {
  readonly lines: { t: number; text: string }[] = [];
  private partial = '';
  private ws: WebSocket | undefined;

  private receive(data: Buffer): void {
    this.partial += data.toString('latin1');
    let nl;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      this.lines.push({ t: performance.now(), text: this.partial.slice(0, nl).replace(/\r$/, '') });
      this.partial = this.partial.slice(nl + 1);
    }
  }

  static async open(port: number): Promise<SerialConsole> {
    const c = new SerialConsole();
    c.ws = await openSocket(port, '/serial', (d) => c.receive(d));
    return c;
  }

  type(text: string): void {
    this.ws!.send(Buffer.from(text, 'latin1'));
  }

  /** The first line at or after `from` matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<{ index: number; t: number; match: RegExpExecArray }> {
    return until(() => {
      for (let i = from; i < this.lines.length; i++) {
        const match = pattern.exec(this.lines[i]!.text);
        if (match) return { index: i, t: this.lines[i]!.t, match };
      }
      return undefined;
    }, () => `${pattern} on COM1; last lines:\n${this.lines.slice(-30).map((l) => l.text).join('\n')}\n${this.partial}`, timeoutMs, 100);
  }

  /** Types a command line and waits for the output line matching `pattern` (after what was there). */
  run(command: string, pattern: RegExp, timeoutMs = STEP_MS): Promise<{ index: number; t: number; match: RegExpExecArray }> {
    const from = this.lines.length;
    this.type(`${command}\n`);
    return this.waitFor(pattern, timeoutMs, from);
  }
}

/** HMP over /monitor: one command line per text frame, one reply frame each. */
class HmpClient {
  private readonly frames: string[] = [];
  private ws: WebSocket | undefined;

  static async open(port: number): Promise<HmpClient> {
    const c = new HmpClient();
    c.ws = await openSocket(port, '/monitor', (d) => c.frames.push(d.toString('utf8')));
    return c;
  }

  async command(line: string): Promise<string> {
    const n = this.frames.length;
    this.ws!.send(line);
    return until(() => this.frames[n], () => `the reply to ${line}`, STEP_MS);
  }
}

type QmpMessage = Record<string, unknown>;

/** QMP over /qmp: the greeting, qmp_capabilities, then every message kept in order. */
class QmpClient {
  readonly messages: QmpMessage[] = [];
  private ws: WebSocket | undefined;

  static async open(port: number): Promise<QmpClient> {
    const c = new QmpClient();
    c.ws = await openSocket(port, '/qmp', (d) => c.messages.push(JSON.parse(d.toString('utf8')) as QmpMessage));
    const greeting = await until(() => c.messages[0], () => 'the QMP greeting', STEP_MS);
    expect(greeting).toHaveProperty('QMP.capabilities');
    c.ws!.send(JSON.stringify({ execute: 'qmp_capabilities', id: 'caps' }));
    expect(await until(() => c.messages.find((m) => m['id'] === 'caps'), () => 'the qmp_capabilities reply', STEP_MS)).toEqual({ return: {}, id: 'caps' });
    return c;
  }

  events(): QmpMessage[] {
    return this.messages.filter((m) => 'event' in m);
  }

  /** The first `name` event at or after event number `from`. */
  waitForEvent(name: string, from = 0, timeoutMs = STEP_MS): Promise<QmpMessage> {
    return until(() => this.events().slice(from).find((m) => m['event'] === name), () => `QMP event ${name}; got ${JSON.stringify(this.events())}`, timeoutMs);
  }
}

/** An event in QEMU's shape: {"event", "data"?, "timestamp": {"seconds", "microseconds"}}. */
function expectQemuEvent(ev: QmpMessage, name: string, data?: Record<string, unknown>): void {
  expect.soft(Object.keys(ev).sort()).toEqual(data ? ['data', 'event', 'timestamp'] : ['event', 'timestamp']);
  expect.soft(ev['event']).toBe(name);
  if (data) expect.soft(ev['data']).toEqual(data);
  const ts = ev['timestamp'] as { seconds: number; microseconds: number };
  expect.soft(Object.keys(ts).sort()).toEqual(['microseconds', 'seconds']);
  expect.soft(Number.isInteger(ts.seconds) && Math.abs(ts.seconds - Date.now() / 1000) < 600).toBe(true);
  expect.soft(Number.isInteger(ts.microseconds) && ts.microseconds >= 0 && ts.microseconds < 1e6).toBe(true);
}

/** The bytes of an `x`/`xp` reply: `ADDR: 0x4c 0x69 ...` lines. */
function dumpBytes(reply: string): number[] {
  const bytes: number[] = [];
  for (const line of reply.split(/\r?\n/)) {
    const m = /^[0-9a-f]+: ((?:0x[0-9a-f]{2} ?)+)$/.exec(line.trim());
    if (m) bytes.push(...m[1]!.trim().split(' ').map((b) => parseInt(b, 16)));
  }
  return bytes;
}

/** QEMU's 32-bit `info registers` (target/i386/cpu-dump.c with CPU_DUMP_FPU, qemu-system-x86_64). */
const QEMU_REGISTERS_32 = [
  /^$/,
  /^CPU#0$/,
  /^EAX=[0-9a-f]{8} EBX=[0-9a-f]{8} ECX=[0-9a-f]{8} EDX=[0-9a-f]{8}$/,
  /^ESI=[0-9a-f]{8} EDI=[0-9a-f]{8} EBP=[0-9a-f]{8} ESP=[0-9a-f]{8}$/,
  /^EIP=[0-9a-f]{8} EFL=[0-9a-f]{8} \[[-D][-O][-S][-Z][-A][-P][-C]\] CPL=[0-3] II=[01] A20=1 SMM=0 HLT=[01]$/,
  ...['ES ', 'CS ', 'SS ', 'DS ', 'FS ', 'GS ', 'LDT', 'TR '].map((s) => new RegExp(`^${s}=[0-9a-f]{4} [0-9a-f]{8} [0-9a-f]{8} [0-9a-f]{8}( DPL=[0-3] .*)?$`)),
  /^GDT= {5}[0-9a-f]{8} [0-9a-f]{8}$/,
  /^IDT= {5}[0-9a-f]{8} [0-9a-f]{8}$/,
  /^CR0=[0-9a-f]{8} CR2=[0-9a-f]{8} CR3=[0-9a-f]{8} CR4=[0-9a-f]{8}$/,
  /^DR0=[0-9a-f]{16} DR1=[0-9a-f]{16} DR2=[0-9a-f]{16} DR3=[0-9a-f]{16} ?$/,
  /^DR6=[0-9a-f]{16} DR7=[0-9a-f]{16}$/,
  /^EFER=[0-9a-f]{16}$/,
  /^FCW=[0-9a-f]{4} FSW=[0-9a-f]{4} \[ST=[0-7]\] FTW=[0-9a-f]{2} MXCSR=[0-9a-f]{8}$/,
  ...[0, 2, 4, 6].map((i) => new RegExp(`^FPR${i}=[0-9a-f]{16} [0-9a-f]{4} FPR${i + 1}=[0-9a-f]{16} [0-9a-f]{4}$`)),
  ...[0, 2, 4, 6].map((i) => new RegExp(`^XMM0${i}=[0-9a-f]{16} [0-9a-f]{16} XMM0${i + 1}=[0-9a-f]{16} [0-9a-f]{16}$`)),
];

// Checks of a format use expect.soft: a boot is minutes long, and one wrong digit should not hide
// what the rest of the session would have found.
describe.skipIf(!guest)('monitor front ends with the Debian i386 guest', () => {
  it('-nographic in tmux with -websocket: HMP and QMP over WebSocket (stop freezes the guest clock, info registers, x/xp), C-a c monitor, C-a x quits', async () => {
    const port = await freePort();
    const t0 = performance.now();
    const t = pcvmInTmux(['-m', '256', '-nographic', '-kernel', guest!.kernel, '-initrd', guest!.initrd, '-append', 'console=ttyS0',
      '-websocket', `127.0.0.1:${port}`], 100, 30);
    const com1 = await SerialConsole.open(port);
    const hmp = await HmpClient.open(port);
    const qmp = await QmpClient.open(port);
    const ready = await com1.waitFor(/^GUEST-READY i686 /, BOOT_MS);
    console.log(`i386 boot to GUEST-READY: ${((ready.t - t0) / 1000).toFixed(1)} s`);

    expect(await hmp.command('info status')).toBe('VM status: running\r\n');

    // x and xp on bytes the guest says are at an address the guest gives. The stock kernel has
    // no data symbols in /proc/kallsyms (no KALLSYMS_ALL), so the bytes are a process's own: a
    // sleep started with one environment variable holding a fresh marker. /proc/PID/stat gives
    // its env_start (field 50), /proc/PID/pagemap the page frame (bits 0-54; root sees it). All
    // 256 MiB are lowmem, mapped by the kernel at PAGE_OFFSET: virtual = physical + 0xC0000000
    // in every page table, whatever process runs when the monitor reads.
    const marker = `M=${Math.random().toString(36).slice(2).padEnd(6, '0').slice(0, 6)}`; // 8 bytes, fresh each run
    const sleeper = await com1.run(`env -i ${marker} sleep 9999 & echo MARK-PID $!`, /^MARK-PID (\d+)$/);
    const pid = sleeper.match[1]!;
    const envStart = Number((await com1.run(`echo ENV-START $(cut -d' ' -f50 /proc/${pid}/stat)`, /^ENV-START (\d+)$/)).match[1]);
    const environ = (await com1.run(`echo ENVIRON $(od -An -tx1 -N8 /proc/${pid}/environ)`, /^ENVIRON ((?:[0-9a-f]{2} ?){8})$/)).match[1]!;
    expect(Buffer.from(environ.replace(/ /g, ''), 'hex').toString('latin1')).toBe(marker);
    const entry = (await com1.run(`echo PAGEMAP $(dd if=/proc/${pid}/pagemap bs=8 skip=${Math.floor(envStart / 4096)} count=1 2>/dev/null | od -An -tx1)`,
      /^PAGEMAP ((?:[0-9a-f]{2} ?){8})$/)).match[1]!;
    const pte = Buffer.from(entry.replace(/ /g, ''), 'hex').readBigUInt64LE(0);
    expect(pte >> 63n, `pagemap entry ${pte.toString(16)}`).toBe(1n); // present
    const physical = Number(pte & ((1n << 55n) - 1n)) * 4096 + (envStart % 4096);
    const virtual = physical + 0xc0000000;
    const markerBytes = [...Buffer.from(marker, 'latin1')];
    const x = await hmp.command(`x/8xb 0x${virtual.toString(16)}`);
    expect.soft(x).toMatch(new RegExp(`^${virtual.toString(16).padStart(16, '0')}: `)); // target_ulong digits, as QEMU
    expect.soft(dumpBytes(x), x).toEqual(markerBytes);
    const xp = await hmp.command(`xp /8xb 0x${physical.toString(16)}`);
    expect.soft(xp).toMatch(new RegExp(`^${physical.toString(16).padStart(16, '0')}: `));
    expect.soft(dumpBytes(xp), xp).toEqual(markerBytes);
    console.log(`x/xp: marker ${marker} of pid ${pid} at env_start ${envStart.toString(16)}, physical ${physical.toString(16)}`);
    await com1.run(`kill ${pid}; wait; echo SLEEPER-GONE`, /^SLEEPER-GONE$/);

    // info registers: QEMU's layout, with an EIP that moves through the kernel's code while the
    // guest works there (dd from /dev/zero: clear_user and the syscall paths). The kernel's text
    // is [_stext, _etext) by the guest's own symbol table (KASLR moves it each boot).
    const text = new Map<string, number>();
    com1.type('grep -w -e _stext -e _etext /proc/kallsyms | sed "s/^/SYM /"; echo SYMS-DONE\n');
    const symsFrom = com1.lines.length;
    const symsDone = await com1.waitFor(/^SYMS-DONE$/, STEP_MS, symsFrom);
    for (const l of com1.lines.slice(symsFrom, symsDone.index)) {
      const m = /^SYM ([0-9a-f]{8}) [tT] (_stext|_etext)$/.exec(l.text);
      if (m) text.set(m[2]!, parseInt(m[1]!, 16));
    }
    const stext = text.get('_stext')!;
    const etext = text.get('_etext')!;
    expect(stext, [...text].join()).toBeGreaterThanOrEqual(0xc0000000);
    expect(etext).toBeGreaterThan(stext);
    const dd = await com1.run('dd if=/dev/zero of=/dev/null bs=512 count=100000000 & echo DD-PID $!', /^DD-PID (\d+)$/);
    const kernelEips = new Set<number>();
    let reads = 0;
    for (; reads < 100 && kernelEips.size < 2; reads++) {
      const regs = await hmp.command('info registers');
      const lines = regs.replace(/\r\n$/, '').split('\r\n');
      expect.soft(lines.length, regs).toBe(QEMU_REGISTERS_32.length);
      lines.forEach((l, i) => expect.soft(l, `line ${i} of\n${regs}`).toMatch(QEMU_REGISTERS_32[i]!));
      const m = /^EIP=([0-9a-f]{8}) .* CPL=(\d)/m.exec(regs)!;
      const eip = parseInt(m[1]!, 16);
      if (eip >= stext && eip < etext) {
        expect.soft(m[2], regs).toBe('0'); // the kernel runs at CPL 0
        expect.soft(regs).toMatch(/^CS =0060 00000000 ffffffff 00cf9b00 DPL=0 CS32 \[-RA\]$/m); // __KERNEL_CS
        kernelEips.add(eip);
      }
      await sleep(50);
    }
    console.log(`info registers: kernel text ${stext.toString(16)}-${etext.toString(16)}; EIPs in it after ${reads} reads: ${[...kernelEips].map((e) => e.toString(16)).join(' ')}`);
    expect(kernelEips.size).toBe(2);
    await com1.run(`kill ${dd.match[1]}; wait; echo DD-STOPPED`, /^DD-STOPPED$/);

    // stop: paused, QMP STOP; the guest's clock does not advance while the VM stands still.
    const up1 = await com1.run('echo UP1 $(cat /proc/uptime)', /^UP1 (\d+\.\d+) /);
    const eventsBefore = qmp.events().length;
    expect(await hmp.command('stop')).toBe('');
    const stoppedAt = performance.now();
    expect(await hmp.command('info status')).toBe('VM status: paused\r\n');
    expectQemuEvent(await qmp.waitForEvent('STOP', eventsBefore), 'STOP');
    // Typed while paused: waits in the UART for the guest.
    com1.type('echo UP2 $(cat /proc/uptime)\n');
    await sleep(10_000);
    const regsPaused1 = await hmp.command('info registers');
    await sleep(500);
    expect(await hmp.command('info registers')).toBe(regsPaused1); // nothing runs while paused
    expect(com1.lines.slice(up1.index + 1).some((l) => l.text.startsWith('UP2 '))).toBe(false);
    expect(await hmp.command('cont')).toBe('');
    const pausedMs = performance.now() - stoppedAt;
    expect(await hmp.command('info status')).toBe('VM status: running\r\n');
    expectQemuEvent(await qmp.waitForEvent('RESUME', eventsBefore), 'RESUME');
    const up2 = await com1.waitFor(/^UP2 (\d+\.\d+) /, STEP_MS, up1.index + 1);
    const hostMs = up2.t - up1.t;
    const guestMs = (parseFloat(up2.match[1]!) - parseFloat(up1.match[1]!)) * 1000;
    console.log(`guest clock: host ${hostMs.toFixed(0)} ms between the readings, paused ${pausedMs.toFixed(0)} ms, guest saw ${guestMs.toFixed(0)} ms`);
    expect(pausedMs).toBeGreaterThan(10_000);
    expect(guestMs).toBeGreaterThan(0);
    // The guest saw the running time only (give or take its 10 ms resolution and the console's latency).
    expect(guestMs).toBeLessThan(hostMs - pausedMs + 1000);
    expect(qmp.events().slice(eventsBefore).map((e) => e['event'])).toEqual(['STOP', 'RESUME']);

    // -nographic: C-a c switches the terminal to the monitor and back.
    t.keys('C-a', 'c');
    await t.waitForText('(qemu)');
    t.type('info status');
    t.keys('Enter');
    await t.waitForText('VM status: running', STEP_MS);
    t.keys('C-a', 'c');
    t.type('echo back-on-com$((0+1))');
    t.keys('Enter');
    await com1.waitFor(/^back-on-com1$/, STEP_MS);
    await t.waitFor('the guest output on the terminal', (s) => s.includes('back-on-com1'), STEP_MS);

    // C-a x: QEMU's "QEMU: Terminated", exit status 0.
    t.keys('C-a', 'x');
    const end = await t.waitForText(`${EXIT_MARK}0`, STEP_MS);
    expect(end.some((l) => l.includes('QEMU: Terminated'))).toBe(true);
  }, BOOT_MS + 10 * STEP_MS);

  it('-display tui in tmux: the guest prompt and a command in the COM1 pane, the monitor pane; system_powerdown over WebSocket ends the guest cleanly with QMP POWERDOWN and SHUTDOWN', async () => {
    const port = await freePort();
    const t0 = performance.now();
    const t = pcvmInTmux(['-m', '256', '-display', 'tui', '-kernel', guest!.kernel, '-initrd', guest!.initrd, '-append', 'console=ttyS0',
      '-websocket', `127.0.0.1:${port}`], 100, 30);
    const com1 = await SerialConsole.open(port);
    const hmp = await HmpClient.open(port);
    const qmp = await QmpClient.open(port);
    const ready = await com1.waitFor(/^GUEST-READY i686 /, BOOT_MS);
    console.log(`i386 boot to GUEST-READY (tui): ${((ready.t - t0) / 1000).toFixed(1)} s`);

    // Keys typed into the terminal reach the guest; its prompt and output show in the COM1 pane.
    t.keys('Enter');
    await t.waitFor('the guest prompt in the COM1 pane', (s) => s.some((l) => /^[│x]guest:\/# +[│x]$/.test(l)), STEP_MS, 200);
    t.type('echo $((6*7))');
    t.keys('Enter');
    await t.waitFor('the output 42 in the COM1 pane', (s) => s.some((l) => /^[│x]42 +[│x]$/.test(l)), STEP_MS, 200);
    const screen = t.screen();
    expect(screen[screen.length - 1]).toMatch(/^ running \| accel \w+ \| .* instr\/s \| vtime \d+:\d\d:\d\d\.\d{3} \|/);

    // The monitor pane.
    t.keys('C-a', 'c');
    await t.waitForText('monitor [focus]', STEP_MS);
    t.type('info status');
    t.keys('Enter');
    await t.waitForText('VM status: running', STEP_MS);

    // system_powerdown: the ACPI power button; busybox acpid runs poweroff; pcvm exits 0.
    const eventsBefore = qmp.events().length;
    expect(await hmp.command('system_powerdown')).toBe('');
    expectQemuEvent(await qmp.waitForEvent('POWERDOWN', eventsBefore), 'POWERDOWN');
    await com1.waitFor(/reboot: Power down/, STEP_MS, ready.index);
    expectQemuEvent(await qmp.waitForEvent('SHUTDOWN', eventsBefore), 'SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
    expect(qmp.events().slice(eventsBefore).map((e) => e['event'])).toEqual(['POWERDOWN', 'SHUTDOWN']);
    await t.waitForText(`${EXIT_MARK}0`, STEP_MS);
  }, BOOT_MS + 10 * STEP_MS);
});
