#!/usr/bin/env node
// Smoke test of the pcvm demo firmware under real QEMU, as an independent
// check of the firmware (QEMU is never a dependency of pcvm).
//
//   node firmware/demo/qemu-smoke.mjs [--qemu PATH] [--firmware PATH] [-- EXTRA QEMU ARGS]
//
// It boots the image with `-bios`, types commands on the serial console and
// checks the answers, then prints "N passed, N failed" and exits 1 on any
// failure.  QEMU_EXTRA_ARGS (split on spaces) is appended like `-- ...`.
//
// QEMU 7.2 never delivers 8259 interrupts to a CPU whose local APIC is
// hardware-disabled (fixed in later releases; 10.0 works): run it there with
// `-- -cpu qemu64,-apic`, which gives the machine no local APIC at all.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
let qemu = process.env.QEMU || 'qemu-system-x86_64';
let firmware = join(here, 'pcvm-demo.bin');
const extra = (process.env.QEMU_EXTRA_ARGS || '').split(' ').filter(Boolean);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--qemu') qemu = argv[++i];
  else if (argv[i] === '--firmware') firmware = argv[++i];
  else if (argv[i] === '--') { extra.push(...argv.slice(i + 1)); break; }
  else { console.error(`unknown argument: ${argv[i]}`); process.exit(2); }
}

const version = spawnSync(qemu, ['--version'], { encoding: 'utf8' });
if (version.error) {
  console.error(`cannot run ${qemu}: ${version.error.message}`);
  process.exit(2);
}
console.log(`# ${version.stdout.split('\n')[0]}`);
console.log(`# firmware ${firmware}; extra args: ${extra.join(' ') || '(none)'}`);

// Append the extra arguments; a `-cpu MODEL,FLAGS` among them keeps its FLAGS
// when a test asks for its own CPU model.
function withExtra(args) {
  const i = args.indexOf('-cpu');
  const j = extra.indexOf('-cpu');
  if (i < 0 || j < 0) return [...args, ...extra];
  const merged = [...args];
  merged[i + 1] = [args[i + 1], ...extra[j + 1].split(',').slice(1)].join(',');
  return [...merged, ...extra.slice(0, j), ...extra.slice(j + 2)];
}
const listing = (t) => t.replace(/\r/g, '').trimEnd().replace(/^/gm, '     | ');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (s) => JSON.stringify(s).slice(1, -1);

class Guest {
  constructor(args) {
    this.out = '';
    this.mark = 0;
    this.proc = spawn(qemu, ['-bios', firmware, '-nographic', ...withExtra(args)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = '';
    this.proc.stdout.on('data', (d) => { this.out += d.toString('latin1'); });
    this.proc.stderr.on('data', (d) => { this.stderr += d.toString('latin1'); });
    this.exit = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.exited = null;
    this.exit.then((e) => { this.exited = e; });
  }
  // Wait until the output after the mark matches; move the mark past it.
  async expect(pattern, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.out.slice(this.mark);
      const m = typeof pattern === 'string'
        ? (rest.includes(pattern) ? { index: rest.indexOf(pattern), 0: pattern } : null)
        : rest.match(pattern);
      if (m) {
        const text = rest.slice(0, m.index + m[0].length);
        this.mark += m.index + m[0].length;
        return text;
      }
      if (Date.now() > deadline || this.exited) {
        throw new Error(`expected ${pattern} within ${timeoutMs} ms; got "${show(rest.slice(-400))}"`);
      }
      await sleep(10);
    }
  }
  // Type like a person: one byte at a time.
  async type(text, delayMs = 2) {
    for (const ch of text) {
      this.proc.stdin.write(Buffer.from(ch, 'latin1'));
      await sleep(delayMs);
    }
  }
  paste(text) { this.proc.stdin.write(Buffer.from(text, 'latin1')); }
  cpuTicks() {
    const stat = readFileSync(`/proc/${this.proc.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);      // utime + stime
  }
  async waitExit(timeoutMs = 5000) {
    return Promise.race([this.exit, sleep(timeoutMs).then(() => null)]);
  }
  kill() { if (!this.exited) this.proc.kill('SIGKILL'); }
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    const note = await fn();
    passed++;
    console.log(`ok   ${name}${note ? ` — ${note}` : ''}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

const PROMPT = 'pcvm> ';
const STD = ['-fw_cfg', 'name=opt/pcvm/version,string=0.1.0',
  '-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];

// --- main session --------------------------------------------------------
{
  const g = new Guest(STD);
  try {
    await check('banner with version, RAM and CPU count', async () => {
      const t = await g.expect(PROMPT);
      assert(t === "pcvm demo firmware 0.1.0 (128 MiB RAM, 1 CPU)\r\ntype 'help' for commands\r\npcvm> ",
        `banner was "${show(t)}"`);
    });
    await check('input is echoed (IRQ4 reaches the CPU)', async () => {
      await g.type('x');
      try { await g.expect('x', 2000); } catch {
        throw new Error('no echo: serial interrupts are not delivered '
          + '(QEMU 7.2 needs `-- -cpu qemu64,-apic`, see the header of this script)');
      }
      await g.type('\b');
      await g.expect('\b \b');
    });
    await check('idle guest sleeps in HLT', async () => {
      const t0 = g.cpuTicks();
      await sleep(2000);
      const used = g.cpuTicks() - t0;              // clock ticks, usually 100/s
      assert(used < 40, `QEMU used ${used} ticks of CPU in 2 s idle`);
      return `${used} ticks of QEMU CPU time in 2 s`;
    });
    await check('help lists every command', async () => {
      await g.type('help\r');
      const t = await g.expect(PROMPT);
      for (const c of ['help', 'cpuid', 'mem', 'echo TEXT', 'exit N', 'reboot', 'poweroff']) {
        assert(new RegExp(`\\r\\n  ${c} +\\S`).test(t), `no line for ${c} in "${show(t)}"`);
      }
    });
    await check('cpuid decodes vendor, signature and flags', async () => {
      await g.type('cpuid\r');
      const t = await g.expect(PROMPT);
      console.log(listing(t));
      assert(/vendor: +\w{12}\r\n/.test(t), 'no vendor');
      assert(/max leaf: +0x[0-9a-f]{8}\r\n/.test(t), 'no max leaf');
      const sig = t.match(/signature: +0x([0-9a-f]{8}) \(family (\d+) \(0x[0-9a-f]{2}\), model (\d+) \(0x[0-9a-f]{2}\), stepping (\d+)\)/);
      assert(sig, 'no signature line');
      const eax = parseInt(sig[1], 16);
      const fam = (eax >> 8) & 15;
      const family = fam === 15 ? fam + ((eax >> 20) & 255) : fam;
      const model = (fam === 6 || fam === 15) ? (((eax >> 16) & 15) << 4) | ((eax >> 4) & 15) : (eax >> 4) & 15;
      assert(Number(sig[2]) === family && Number(sig[3]) === model && Number(sig[4]) === (eax & 15),
        'family/model/stepping decoded wrongly');
      assert(/edx flags: +fpu /.test(t) && /\bsse2\b/.test(t), 'edx flags missing');
      assert(/ecx flags: +.*\bhypervisor\b/s.test(t), 'ecx flags missing');
    });
    await check('mem reports RAM and CPUs', async () => {
      await g.type('mem\r');
      const t = await g.expect(PROMPT);
      assert(t === 'mem\r\nRAM:  128 MiB\r\nCPUs: 1\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('echo prints its text', async () => {
      await g.type('echo hello  world\r');
      const t = await g.expect(PROMPT);
      assert(t === 'echo hello  world\r\nhello  world\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('unknown command', async () => {
      await g.type('frobnicate now\r');
      const t = await g.expect(PROMPT);
      assert(t.endsWith("unknown command: frobnicate (try 'help')\r\npcvm> "), `got "${show(t)}"`);
    });
    await check('backspace and DEL edit the line', async () => {
      await g.type('ecxo\b\x7fho back\r');
      const t = await g.expect(PROMPT);
      assert(t === 'ecxo\b \b\b \bho back\r\nback\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('backspace on an empty line does nothing', async () => {
      await g.type('\b\x7fecho ok\r');
      const t = await g.expect(PROMPT);
      assert(t === 'echo ok\r\nok\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('CR LF runs the line once', async () => {
      await g.type('echo crlf\r\necho next\r');
      const t = await g.expect('next\r\npcvm> ');
      assert(t === 'echo crlf\r\ncrlf\r\npcvm> echo next\r\nnext\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('LF alone ends a line', async () => {
      await g.type('echo lf\n');
      const t = await g.expect(PROMPT);
      assert(t === 'echo lf\r\nlf\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('empty and blank lines give a new prompt', async () => {
      await g.type('\r   \r');
      const t = await g.expect(/pcvm> [^]*pcvm> /);
      assert(t === '\r\npcvm>    \r\npcvm> ', `got "${show(t)}"`);
    });
    await check('other control bytes are ignored', async () => {
      await g.type('\x02\x1b\x07echo ctl\x03\r');
      const t = await g.expect(PROMPT);
      assert(t === 'echo ctl\r\nctl\r\npcvm> ', `got "${show(t)}"`);
    });
    await check('pasted line (FIFO + ring buffer) and overlong input', async () => {
      g.paste(`echo ${'a'.repeat(200)}\r`);
      const t = await g.expect(PROMPT);
      const a = 'a'.repeat(115);
      assert(t === `echo ${a}\r\n${a}\r\npcvm> `, `got "${show(t)}"`);
      return 'line capped at 120 characters';
    });
    await check('exit rejects bad arguments', async () => {
      for (const arg of ['', ' 256', ' x', ' 1 2', ' -1']) {
        await g.type(`exit${arg}\r`);
        const t = await g.expect(PROMPT);
        assert(t.includes('usage: exit N'), `exit${arg}: got "${show(t)}"`);
      }
    });
    await check('reboot resets the machine and boots again', async () => {
      await g.type('reboot\r');
      const t = await g.expect(PROMPT, 10000);
      assert(t.startsWith('reboot\r\nrebooting...\r\n') && t.includes(
        "pcvm demo firmware 0.1.0 (128 MiB RAM, 1 CPU)\r\ntype 'help' for commands\r\npcvm> "),
        `got "${show(t)}"`);
      await g.type('echo again\r');
      await g.expect('again\r\npcvm> ');
    });
    await check('exit 3 leaves QEMU with status 7 (isa-debug-exit)', async () => {
      await g.type('exit 3\r');
      const e = await g.waitExit();
      assert(e && e.code === 7, `exit was ${JSON.stringify(e)}`);
    });
  } finally {
    g.kill();
  }
}

// --- poweroff --------------------------------------------------------------
{
  const g = new Guest(STD);
  try {
    await check('poweroff exits QEMU with status 0 (ACPI S5)', async () => {
      await g.expect(PROMPT);
      await g.type('poweroff\r');
      await g.expect('powering off...\r\n');
      const e = await g.waitExit();
      assert(e && e.code === 0, `exit was ${JSON.stringify(e)}; output "${show(g.out.slice(-200))}"`);
    });
  } finally {
    g.kill();
  }
}

// --- other configurations -------------------------------------------------
{
  const g = new Guest(['-m', '5G', '-smp', '2']);
  try {
    await check('no version file; 5 GiB RAM; 2 CPUs', async () => {
      const t = await g.expect(PROMPT);
      assert(t === "pcvm demo firmware unknown (5120 MiB RAM, 2 CPUs)\r\ntype 'help' for commands\r\npcvm> ",
        `banner was "${show(t)}"`);
    });
  } finally {
    g.kill();
  }
}
{
  const g = new Guest([]);
  try {
    await g.expect(PROMPT);
    await check('exit without isa-debug-exit says so', async () => {
      await g.type('exit 0\r');
      const t = await g.expect(PROMPT);
      assert(t === 'exit 0\r\nexit: no isa-debug-exit device present\r\npcvm> ', `got "${show(t)}"`);
    });
  } finally {
    g.kill();
  }
}
{
  const g = new Guest(['-cpu', 'max']);
  try {
    await check('cpuid with -cpu max', async () => {
      await g.expect(PROMPT);
      await g.type('cpuid\r');
      const t = await g.expect(PROMPT);
      console.log(listing(t));
      for (const f of ['ssse3', 'sse4_1', 'sse4_2', 'popcnt', 'cx16']) {
        assert(new RegExp(`\\b${f}\\b`).test(t), `no ${f}`);
      }
    });
  } finally {
    g.kill();
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
