#!/usr/bin/env node
// Builds pcvm's own firmware and guest images with nasm:
//   firmware/demo/pcvm-demo.bin              the demo firmware (exactly 64 KiB)
//   firmware/multiboot-test/mbtest.elf       the multiboot test kernel, ELF32
//   firmware/multiboot-test/mbtest-aout.bin  the same with the a.out kludge (-DAOUT)
//   firmware/vmx-test/vmxtest.elf            the VMX test hypervisor (multiboot ELF32)
//   firmware/snapshot-test/ticks.bin         the timer-heavy snapshot test kernel
//   firmware/call-gate-test/callgates.bin    the call-gate test kernel (multiboot, a.out kludge)
//   firmware/call-gate-test/callgates64.bin  the same for 64-bit call gates in IA-32e mode
//
//   node scripts/build-firmware.mjs           assemble and write the images
//   node scripts/build-firmware.mjs --check   assemble into a temporary directory and
//                                             compare with the committed images
//
// The images are committed beside their sources, so installing pcvm never needs
// nasm.  --check exits 1 when a committed image differs from what its source
// assembles to, and exits 0 with "firmware check skipped: nasm not found" when
// nasm is not installed.  Set NASM to use another nasm binary.  The output is
// reproducible: a flat binary carries no timestamps or paths.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What to build: source, image, extra nasm arguments, required size (if any). */
const IMAGES = [
  { source: 'firmware/demo/pcvm-demo.asm', image: 'firmware/demo/pcvm-demo.bin', args: [], size: 64 * 1024 },
  { source: 'firmware/multiboot-test/mbtest.asm', image: 'firmware/multiboot-test/mbtest.elf', args: [] },
  { source: 'firmware/multiboot-test/mbtest.asm', image: 'firmware/multiboot-test/mbtest-aout.bin', args: ['-DAOUT'] },
  { source: 'firmware/vmx-test/vmxtest.asm', image: 'firmware/vmx-test/vmxtest.elf', args: [] },
  { source: 'firmware/snapshot-test/ticks.asm', image: 'firmware/snapshot-test/ticks.bin', args: [] },
  { source: 'firmware/call-gate-test/callgates.asm', image: 'firmware/call-gate-test/callgates.bin', args: [] },
  { source: 'firmware/call-gate-test/callgates64.asm', image: 'firmware/call-gate-test/callgates64.bin', args: [] },
];
const nasm = process.env.NASM || 'nasm';
const rel = (p) => relative(process.cwd(), p) || p;

function fail(message) {
  console.error(message);
  process.exit(1);
}

function nasmAvailable() {
  const r = spawnSync(nasm, ['-v'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

// Assemble `spec`'s source into `out`; return the bytes.
function assemble(spec, out) {
  const source = join(root, spec.source);
  const r = spawnSync(nasm, ['-f', 'bin', '-w+all', ...spec.args, '-o', out, source], {
    cwd: root,
    encoding: 'utf8',
  });
  if (r.error) fail(`cannot run ${nasm}: ${r.error.message}`);
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.stderr) process.stderr.write(r.stderr);
  if (r.status !== 0) fail(`nasm failed on ${rel(source)} (exit status ${r.status})`);
  const bytes = readFileSync(out);
  if (spec.size !== undefined && bytes.length !== spec.size) {
    fail(`${rel(source)} assembled to ${bytes.length} bytes; the image must be exactly ${spec.size}`);
  }
  return bytes;
}

const args = process.argv.slice(2);
const check = args.includes('--check');
const unknown = args.filter((a) => a !== '--check');
if (unknown.length) fail(`usage: node scripts/build-firmware.mjs [--check] (unknown: ${unknown.join(' ')})`);

if (!nasmAvailable()) {
  if (check) {
    console.log('firmware check skipped: nasm not found');
    process.exit(0);
  }
  fail('nasm not found: install it (e.g. `apt-get install nasm`) or set NASM to its path');
}

const dir = mkdtempSync(join(tmpdir(), 'pcvm-firmware-'));
try {
  IMAGES.forEach((spec, i) => {
    const image = join(root, spec.image);
    const source = join(root, spec.source);
    const out = join(dir, `${i}.bin`);
    const built = assemble(spec, out);
    if (check) {
      let committed;
      try {
        committed = readFileSync(image);
      } catch (e) {
        fail(`firmware check failed: cannot read ${rel(image)}: ${e.message}`);
      }
      if (!committed.equals(built)) {
        let at = 0;
        while (at < Math.min(committed.length, built.length) && committed[at] === built[at]) at++;
        fail(`firmware check failed: ${rel(image)} (${committed.length} bytes) differs from what `
          + `${rel(source)} assembles to (${built.length} bytes), first at offset 0x${at.toString(16)}; `
          + 'run `npm run firmware` and commit the image');
      }
      console.log(`firmware check passed: ${rel(image)} matches ${rel(source)}`);
    } else {
      copyFileSync(out, image);
      console.log(`wrote ${rel(image)} (${built.length} bytes)`);
    }
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
