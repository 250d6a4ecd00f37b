#!/usr/bin/env -S node --concurrent-recompilation-queue-length=4096 --interrupt-budget=4096
/**
 * The `pcvm` command: QEMU's options in, QEMU's exit statuses out.
 *   0                after a guest power-off, `quit`, or `C-a x`
 *   (v << 1) | 1     when the guest writes v to isa-debug-exit
 *   1                on a fatal error, with one line `pcvm: <reason>` on stderr
 *
 * The interpreter line raises V8's concurrent-recompilation queue from its default of 8 jobs:
 * the JIT (src/cpu/x86/jit/) makes one JavaScript function per guest block, thousands turn hot
 * at once, and V8 drops optimization requests that find the queue full, leaving most blocks in
 * baseline code for good (measured on 1000 hot blocks: 6.4 MIPS with the default, 17.5 with
 * 4096). The flag only takes effect at start-up, hence the shebang (Linux `env -S`).
 */
import { ConfigError, SnapshotError, WiringError } from '../errors.js';
import { Machine } from '../machine/machine.js';
import { pcvmVersion } from '../machine/default-firmware.js';
import { StdioMux } from '../ui/stdio-mux.js';
import { StreamCharBackend } from '../chardev/stream.js';
import { helpText, topicHelpText, versionText } from './help.js';
import { parseCommandLine } from './options.js';
import { machineFromOptions } from './machine-from-options.js';
import { openMonitors } from './monitors.js';
import { startWithSavedState } from './start-with-saved-state.js';
import { PcvmWebSocketServer } from '../server/websocket-server.js';
import { GdbServer } from '../gdb/gdb-server.js';
import { TerminalUi } from '../ui/tui/tui.js';
import { resolveDisplay } from './display.js';

function fail(message: string): never {
  process.stderr.write(`pcvm: ${message}\n`);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  // `pcvm --test SCRIPT`: the expect runner (pcvm-test), not a machine of our own.
  if (argv[0] === '--test') {
    const { pcvmTestMain } = await import('../expect/pcvm-test.js');
    const status = await pcvmTestMain(argv.slice(1), (t) => process.stdout.write(t), (t) => process.stderr.write(t));
    process.stdout.write('', () => process.exit(status));
    return;
  }
  let opts;
  try {
    opts = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
  if (opts.showHelp) {
    process.stdout.write(helpText());
    return;
  }
  if (opts.showVersion) {
    process.stdout.write(versionText(pcvmVersion()));
    return;
  }
  if (opts.helpRequest) {
    process.stdout.write(topicHelpText(opts.helpRequest));
    return;
  }
  for (const w of opts.warnings) process.stderr.write(`pcvm: warning: ${w}\n`);

  let setup;
  let machine: Machine;
  try {
    opts = { ...opts, display: resolveDisplay(opts, process.stdout.isTTY === true) };
    setup = machineFromOptions(opts, process.stdout);
    machine = new Machine(setup.config, { serial: setup.serial, log: setup.log, drives: setup.virtio.drives, netdevs: setup.virtio.netdevs });
    setup.virtio.bindClock(machine.clock);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof WiringError) fail(e.message);
    throw e;
  }

  for (const w of machine.directBoot?.warnings ?? []) process.stderr.write(`pcvm: warning: ${w}\n`);

  // The monitor on stdio without a serial port there (-nographic -serial file:x, -monitor stdio).
  let stdio = setup.stdio;
  let monitorOnly = false;
  if (!stdio && opts.monitor.some((m) => m.backend === 'stdio')) {
    stdio = { backend: new StreamCharBackend(process.stdout), withMonitor: true };
    monitorOnly = true;
  }
  const mux = stdio
    ? new StdioMux(machine, stdio.backend, { stdin: process.stdin, stdout: process.stdout, withMonitor: stdio.withMonitor, monitorOnly })
    : undefined;
  const tui = opts.display.type === 'tui'
    ? new TerminalUi(machine, {
      stdin: process.stdin, stdout: process.stdout, console: setup.virtualConsole,
      withMonitor: opts.monitor.some((m) => m.backend === 'vc'),
    })
    : undefined;
  let monitors;
  let websocket: PcvmWebSocketServer | undefined;
  try {
    await Promise.all(setup.virtio.netdevs.map((n) => n.ready));
    monitors = await openMonitors(machine, opts, setup, { stdin: process.stdin, stdout: process.stdout }, stdio !== undefined);
    if (opts.websocket) websocket = await PcvmWebSocketServer.open(machine, setup.consoleTee, opts.websocket);
    // QEMU creates the gdbstub last; -S keeps the VM stopped until gdb (or the monitor) continues.
    if (opts.gdb) await GdbServer.open(machine, opts.gdb, 'gdb');
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }

  // A halted guest with no timer armed leaves Node's event loop empty; the VM is alive all
  // the same until it powers off or is told to quit.
  const keepAlive = setInterval(() => {}, 1 << 30);
  machine.on('exit', (status, reason) => {
    clearInterval(keepAlive);
    mux?.close();
    tui?.close();
    monitors.close();
    websocket?.close();
    GdbServer.of(machine)?.close();
    setup.close();
    if (status === 1 && reason !== 'isa-debug-exit') process.stderr.write(`pcvm: ${reason}\n`);
    // Let stdout drain before leaving (the guest's last words matter to scripts).
    process.stdout.write('', () => process.exit(status));
  });
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.on(sig, () => {
      // QEMU: "terminating on signal N"; the exit status is 0 as for quit.
      process.stderr.write(`pcvm: terminating on signal ${num}\n`);
      machine.quit();
    });
  }
  mux?.start();
  tui?.start();
  // -incoming and -loadvm restore a saved state before the guest runs (QEMU: a failed load
  // ends pcvm with status 1).
  try {
    startWithSavedState(machine, { incoming: opts.incoming, loadvm: opts.loadvm });
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    process.stderr.write(`pcvm: ${e.message}\n`);
    machine.close();
    process.exit(1);
  }
}

await main(process.argv.slice(2));
