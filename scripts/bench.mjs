// Benchmarks (run after `npm run build`): interpreter throughput on integer loops, and the
// demo firmware's time from reset to its prompt. Prints one line per figure:
//   BENCH <name> <value> <unit>
import { Machine } from '../dist/src/machine/machine.js';
import { defaultMachineConfig } from '../dist/src/machine/config.js';
import { MemoryCharBackend } from '../dist/src/chardev/chardev.js';
import { NULL_LOGGER } from '../dist/src/machine/log.js';

function rom(code) {
  const r = new Uint8Array(0x10000).fill(0xf4);
  r.set(code, 0);
  r.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0);
  return r;
}

// 32-bit ALU loop with a memory store: add/adc/mov/dec/jnz, 5 instructions per iteration.
const ITER = 4_000_000;
const loop = rom([
  0x31, 0xc0, 0x8e, 0xd8,
  0x66, 0x31, 0xdb, 0x66, 0x31, 0xf6,
  0x66, 0xb9, ITER & 0xff, (ITER >> 8) & 0xff, (ITER >> 16) & 0xff, ITER >>> 24,
  0x66, 0x01, 0xcb, 0x66, 0x83, 0xd6, 0x00, 0x66, 0x89, 0x1e, 0x00, 0x06, 0x66, 0x49, 0x75, 0xf0,
  0xb0, 0x00, 0xe6, 0xf4, 0xf4,
]);

// String copy: rep movsw of 32 KiB, repeated.
const copies = 400;
const strings = rom([
  0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0xbb, copies & 0xff, copies >> 8, // xor ax,ax; ds=es=0; mov bx,copies
  0xbe, 0x00, 0x10, 0xbf, 0x00, 0x90, 0xb9, 0x00, 0x40, 0xf3, 0xa5, // si=0x1000 di=0x9000 cx=0x4000 rep movsw
  0x4b, 0x75, 0xf1, // dec bx; jnz
  0xb0, 0x00, 0xe6, 0xf4, 0xf4,
]);

async function run(name, bios, bytesMoved = 0) {
  const m = new Machine(defaultMachineConfig({ memoryBytes: 16 << 20, bios, debugExits: [{ iobase: 0xf4, iosize: 1 }] }), {
    serial: [new MemoryCharBackend()], log: NULL_LOGGER,
  });
  const t0 = performance.now();
  m.start();
  await m.waitForExit();
  const ms = performance.now() - t0;
  if (bytesMoved > 0) {
    console.log(`BENCH ${name} ${(bytesMoved / ms / 1000).toFixed(1)} MB/s (${bytesMoved} bytes in ${ms.toFixed(0)} ms)`);
    return;
  }
  const mips = m.cpu.retired / ms / 1000;
  console.log(`BENCH ${name}-mips ${mips.toFixed(1)} MIPS (${m.cpu.retired} instructions in ${ms.toFixed(0)} ms)`);
}

async function demoBoot() {
  const out = new MemoryCharBackend();
  const m = new Machine(defaultMachineConfig(), { serial: [out], log: NULL_LOGGER });
  const t0 = performance.now();
  m.start();
  while (!out.text().includes('pcvm> ')) await new Promise((r) => setImmediate(r));
  const ms = performance.now() - t0;
  m.close();
  console.log(`BENCH demo-firmware-to-prompt ${ms.toFixed(1)} ms`);
}

await run('alu-loop', loop);
await run('rep-movsw', strings, copies * 0x8000);
await demoBoot();

// Debian guests (from `npm run guests`): boot to GUEST-READY and each guest-bench figure, in
// pcvm and — when qemu-system-x86_64 is installed — in QEMU TCG in the same run, side by side.
// `node scripts/bench.mjs --no-guests` skips them; `--arch i386` picks one; `--no-io` skips the
// disk and network figures (scripts/bench-io.mjs).
const argv = process.argv.slice(2);
if (!argv.includes('--no-guests')) {
  const { benchFigures, guestArgs, guestFiles, PCVM, runConsole } = await import('./guest-run.mjs');
  const { spawnSync } = await import('node:child_process');
  const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
  const archIndex = argv.indexOf('--arch');
  const arches = archIndex >= 0 ? [argv[archIndex + 1]] : ['i386', 'amd64'];
  for (const arch of arches) {
    const guest = guestFiles(arch);
    if (!guest) {
      console.log(`BENCH guest-${arch} skipped (run \`npm run guests\`)`);
      continue;
    }
    const append = 'console=ttyS0 autorun=guest-bench;poweroff+-f';
    // [name, command, the options before the guest's]
    const engines = [['pcvm', PCVM, []]];
    if (haveQemu) engines.push(['qemu-tcg', 'qemu-system-x86_64', ['-accel', 'tcg', '-no-reboot']]);
    for (const [engine, command, prefix] of engines) {
      const vm = runConsole(command, [...prefix, ...guestArgs(guest, append)]);
      try {
        const ready = await vm.waitFor(/^GUEST-READY /, 900_000);
        console.log(`BENCH ${engine}-${arch}-boot-to-ready ${(ready.t * 1000).toFixed(0)} ms`);
        await vm.waitFor(/^BENCH-DONE/, 900_000);
        for (const [name, ms] of Object.entries(benchFigures(vm.lines))) console.log(`BENCH ${engine}-${arch}-${name} ${ms} ms`);
        await vm.exit;
      } catch (e) {
        console.log(`BENCH ${engine}-${arch} failed: ${String(e).split('\n')[0]}`);
      } finally {
        vm.kill();
      }
    }
    // Disk and network throughput (scripts/bench-io.mjs); `--no-io` skips it.
    if (!argv.includes('--no-io')) {
      const { benchGuestIo } = await import('./bench-io.mjs');
      await benchGuestIo(arch, guest, engines);
    }
  }
}
