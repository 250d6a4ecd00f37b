#!/usr/bin/env node
/**
 * Generates the 64-bit CPU conformance fixtures (test/cpu/fixtures/*64.json) from the HOST
 * CPU, the 64-bit counterpart of gen-cpu-fixtures.mjs: snippets are assembled with nasm
 * (`bits 64`), run natively in 64-bit user mode by test/cpu/native/harness64.c with chosen
 * registers and flags, and the host's registers, flags and memory become the expected values.
 * test/cpu/long/*-64.test.ts replay them on the interpreter in 64-bit mode.
 *
 * Values are 64-bit, so the JSON holds them as hex strings. Each case records which flags the
 * SDM defines for it (as in the 32-bit generator); only those are compared.
 *
 * Requirements: x86-64 host, gcc, nasm. Usage: node scripts/gen-cpu-fixtures64.mjs
 * (KEEP=1 keeps the temporary directory).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'test/cpu/fixtures');
const HARNESS_C = join(ROOT, 'test/cpu/native/harness64.c');

/** Must match test/cpu/native/harness64.c and test/helpers/cpu-harness64.ts. */
const CODE_ADDR = 0x00100000;
const DATA_ADDR = 0x00110000n;

const REGS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
/** Values of registers a snippet does not take as input: they must come back unchanged. */
const SENTINELS = REGS.map((_, i) => (i === 4 ? 0n : BigInt.asUintN(64, 0xa0a1a2a3a4a5a6a7n + BigInt(i) * 0x0101010101010101n)));

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
const ALL = ARITH | DF;
const OBSERVED = ALL | 0x2;
const M64 = (1n << 64n) - 1n;

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
let rand = rng(1);
const rand64 = () => (BigInt(rand()) << 32n) | BigInt(rand());

/** Edge operands of 64 bits, plus random ones. */
function edges64() {
  return [0n, 1n, 0x7fn, 0x80n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n,
    0xfffffffffffffffen, 0xffffffffffffffffn, 0x80000000n, 0xffffffff80000000n, rand64(), rand64()];
}

function randFlags(cf) {
  let f = (rand() & ARITH) | 0x2;
  if (cf !== undefined) f = (f & ~CF) | (cf ? CF : 0);
  return f;
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const h64 = (v) => BigInt.asUintN(64, v).toString(16);

class Group {
  constructor(name, seed, about) {
    this.name = name;
    this.about = about;
    this.snippets = [];
    rand = rng(seed);
  }

  snippet(def) {
    const s = { asm: def.asm, src: def.src ?? def.asm, in: def.in, out: def.out, mask: def.mask ?? ALL, mem: def.mem ?? 0, cases: [] };
    this.snippets.push(s);
    return {
      add: (regs, flags, extra = {}) => {
        for (const r of Object.keys(regs)) if (!s.in.includes(r)) throw new Error(`${s.asm}: ${r} is not an input`);
        s.cases.push({ regs, flags, ...extra });
      },
    };
  }
}

const groups = [];
const isLogic = (op) => ['and', 'or', 'xor', 'test'].includes(op);

// ---- ALU ----------------------------------------------------------------------------------
{
  const g = new Group('alu64', 6401, 'ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT at 64-bit operand size: register, immediate and memory forms, chained lazy flags');
  groups.push(g);
  for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test']) {
    const s = g.snippet({ asm: `${op} rax, rbx`, in: ['rax', 'rbx'], out: op === 'cmp' || op === 'test' ? [] : ['rax'], mask: isLogic(op) ? ALL & ~AF : ALL });
    const vals = edges64();
    for (const x of vals) for (const y of vals) for (const cf of op === 'adc' || op === 'sbb' ? [0, 1] : [undefined]) s.add({ rax: x, rbx: y }, randFlags(cf));
  }
  for (const [asm, reg] of [['add rax, byte -1', 'rax'], ['sub r9, 0x7fffffff', 'r9'], ['and rcx, -0x80000000', 'rcx'], ['adc r15, byte 1', 'r15'],
    ['sbb rdx, -2', 'rdx'], ['cmp rax, 0x7fffffff', 'rax'], ['xor r12, byte -128', 'r12'], ['or rbx, 0x40000000', 'rbx'], ['test r10, -1', 'r10']]) {
    const op = asm.split(' ')[0];
    const s = g.snippet({ asm, in: [reg], out: op === 'cmp' || op === 'test' ? [] : [reg], mask: isLogic(op) ? ALL & ~AF : ALL });
    for (const x of edges64()) for (const cf of [0, 1]) s.add({ [reg]: x }, randFlags(cf));
  }
  for (const op of ['inc', 'dec', 'neg', 'not']) {
    const s = g.snippet({ asm: `${op} r11`, in: ['r11'], out: ['r11'] });
    for (const x of edges64()) for (const cf of [0, 1]) s.add({ r11: x }, randFlags(cf));
  }
  for (const [asm, out] of [['add [rsi], rbx', []], ['sub rbx, [rsi]', ['rbx']], ['sbb qword [rsi], 0x7fffffff', []], ['neg qword [rsi]', []]]) {
    const op = asm.split(' ')[0];
    const s = g.snippet({ asm, in: ['rbx', 'rsi'], out, mem: 8, mask: isLogic(op) ? ALL & ~AF : ALL });
    for (const x of edges64().slice(0, 10)) for (const y of edges64().slice(0, 6)) {
      const m = new Uint8Array(8);
      for (let i = 0; i < 8; i++) m[i] = Number((x >> BigInt(8 * i)) & 0xffn);
      s.add({ rbx: y, rsi: DATA_ADDR }, randFlags(rand() & 1), { mem: m });
    }
  }
  for (const [asm, ins, out] of [
    ['add rax, rbx; adc rcx, rdx', ['rax', 'rbx', 'rcx', 'rdx'], ['rax', 'rcx']],
    ['sub rax, rbx; sbb rcx, rdx', ['rax', 'rbx', 'rcx', 'rdx'], ['rax', 'rcx']],
    ['add rax, rbx; inc rcx; adc rdx, 0', ['rax', 'rbx', 'rcx', 'rdx'], ['rax', 'rcx', 'rdx']],
    ['cmp rax, rbx; sbb ecx, ecx', ['rax', 'rbx', 'rcx'], ['rcx']],
    ['add eax, ebx; adc rcx, rdx', ['rax', 'rbx', 'rcx', 'rdx'], ['rax', 'rcx']],
  ]) {
    const s = g.snippet({ asm, in: ins, out });
    for (const x of edges64()) for (const y of edges64().slice(0, 8)) {
      const regs = {};
      for (const r of ins) regs[r] = rand64();
      regs[ins[0]] = x;
      regs[ins[1]] = y;
      s.add(regs, randFlags(rand() & 1));
    }
  }
}

// ---- Shifts ---------------------------------------------------------------------------------
{
  const g = new Group('shifts64', 6402, 'ROL ROR RCL RCR SHL SHR SAR at 64-bit operand size by CL, 1 and imm8; SHLD SHRD r/m64');
  groups.push(g);
  const COUNTS = [0, 1, 2, 7, 31, 32, 33, 62, 63, 64, 65, 127];
  const shiftMask = (op, count) => {
    const c = count & 63;
    if (c === 0) return ALL;
    if (op[0] === 'r') return c === 1 ? ALL : ALL & ~OF;
    let m = ALL & ~AF;
    if (c !== 1) m &= ~OF;
    return m;
  };
  for (const op of ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar']) {
    const s = g.snippet({ asm: `${op} rax, cl`, in: ['rax', 'rcx'], out: ['rax'] });
    for (const x of edges64()) for (const count of COUNTS) for (const cf of [0, 1]) s.add({ rax: x, rcx: BigInt(count) }, randFlags(cf), { mask: shiftMask(op, count) });
    for (const count of [1, 17, 63]) {
      const s2 = g.snippet({ asm: count === 1 ? `${op} r13, 1` : `${op} r13, ${count}`, in: ['r13'], out: ['r13'], mask: shiftMask(op, count) });
      for (const x of edges64()) for (const cf of [0, 1]) s2.add({ r13: x }, randFlags(cf));
    }
  }
  const dshMask = (count) => {
    const c = count & 63;
    if (c === 0) return ALL;
    let m = ALL & ~AF;
    if (c !== 1) m &= ~OF;
    return m;
  };
  for (const op of ['shld', 'shrd']) {
    const s = g.snippet({ asm: `${op} rax, rbx, cl`, in: ['rax', 'rbx', 'rcx'], out: ['rax'] });
    for (const x of edges64().slice(0, 9)) for (const y of edges64().slice(0, 7)) for (const count of COUNTS) {
      s.add({ rax: x, rbx: y, rcx: BigInt(count) }, randFlags(rand() & 1), { mask: dshMask(count) });
    }
    const s2 = g.snippet({ asm: `${op} [rsi], rdx, 40`, in: ['rdx', 'rsi'], out: [], mem: 8, mask: dshMask(40) });
    for (const y of edges64()) s2.add({ rdx: y, rsi: DATA_ADDR }, randFlags(), { mem: Uint8Array.from({ length: 8 }, () => rand() & 0xff) });
  }
}

// ---- MUL IMUL DIV IDIV ------------------------------------------------------------------------
{
  const g = new Group('muldiv64', 6403, 'MUL, IMUL (one, two and three operands), DIV, IDIV at 64-bit operand size, including #DE');
  groups.push(g);
  const MUL_MASK = CF | OF | DF;
  for (const op of ['mul', 'imul']) {
    const s = g.snippet({ asm: `${op} rbx`, in: ['rax', 'rbx'], out: ['rax', 'rdx'], mask: MUL_MASK });
    for (const x of edges64()) for (const y of edges64()) s.add({ rax: x, rbx: y }, randFlags());
  }
  for (const asm of ['imul rax, rbx', 'imul r8, rbx, -3', 'imul r9, rbx, 0x7fffffff', 'imul rcx, [rsi]']) {
    const dst = asm.split(' ')[1].replace(',', '');
    const mem = asm.includes('[');
    const ins = mem ? ['rcx', 'rsi'] : dst === 'rax' ? ['rax', 'rbx'] : [dst, 'rbx'];
    const s = g.snippet({ asm, in: ins, out: [dst], mask: MUL_MASK, mem: mem ? 8 : 0 });
    for (const x of edges64()) for (const y of edges64().slice(0, 10)) {
      if (mem) {
        const m = new Uint8Array(8);
        for (let i = 0; i < 8; i++) m[i] = Number((y >> BigInt(8 * i)) & 0xffn);
        s.add({ rcx: x, rsi: DATA_ADDR }, randFlags(), { mem: m });
      } else {
        s.add({ [ins[0]]: x, rbx: y }, randFlags());
      }
    }
  }
  const divisors = [0n, 1n, 2n, 3n, 10n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xfffffffffffffffen, 0xffffffffffffffffn];
  const dividends = [[0n, 0n], [0n, 1n], [0n, M64], [1n, 0n], [0x7fffffffffffffffn, M64], [0x8000000000000000n, 0n], [M64, 0x8000000000000000n],
    [M64, 0x7fffffffffffffffn], [M64, M64], [0xfffffffffffffffen, 0n], [0x12345n, 0x6789abcdef012345n]];
  for (const op of ['div', 'idiv']) {
    const s = g.snippet({ asm: `${op} rbx`, in: ['rax', 'rdx', 'rbx'], out: ['rax', 'rdx'], mask: DF });
    const ds = [...divisors, rand64(), rand64() | 1n];
    const ns = [...dividends, [BigInt(rand() & 0xff), rand64()], [rand64(), rand64()]];
    for (const [hi, lo] of ns) for (const d of ds) s.add({ rdx: hi, rax: lo, rbx: d }, randFlags());
  }
}

// ---- Bit operations ---------------------------------------------------------------------------
{
  const g = new Group('bitops64', 6404, 'BSF BSR BT BTS BTR BTC (register, immediate, memory bit strings) and BSWAP at 64-bit operand size');
  groups.push(g);
  const vals = [...edges64(), 0x10n, 0x100000000000n, 0x4000000000000000n, 0x00f0f0f000000000n];
  for (const op of ['bsf', 'bsr']) {
    const s = g.snippet({ asm: `${op} rax, rbx`, in: ['rax', 'rbx'], out: ['rax'], mask: ZF | DF });
    for (const y of vals) s.add({ rax: rand64(), rbx: y }, randFlags(), { undef: y === 0n ? ['rax'] : undefined });
  }
  const offsets = [0n, 1n, 31n, 32n, 33n, 63n, 64n, 65n, 127n, 0xffffffffn, M64, rand64(), rand64()];
  for (const op of ['bt', 'bts', 'btr', 'btc']) {
    const s = g.snippet({ asm: `${op} rax, rbx`, in: ['rax', 'rbx'], out: op === 'bt' ? [] : ['rax'], mask: CF | ZF | DF });
    for (const x of edges64().slice(0, 8)) for (const o of offsets) s.add({ rax: x, rbx: o }, randFlags());
    const s2 = g.snippet({ asm: `${op} r10, 45`, in: ['r10'], out: op === 'bt' ? [] : ['r10'], mask: CF | ZF | DF });
    for (const x of edges64()) s2.add({ r10: x }, randFlags());
  }
  const WINDOW = 64;
  for (const op of ['bt', 'bts', 'btr', 'btc']) {
    const s = g.snippet({ asm: `${op} [rsi], rax`, in: ['rax', 'rsi'], out: [], mask: CF | ZF | DF, mem: WINDOW });
    const offs = [0n, 1n, 63n, 64n, 65n, -1n, -64n, -65n, 200n, -200n, 255n, -256n];
    for (const o of offs) s.add({ rax: BigInt.asUintN(64, o), rsi: DATA_ADDR + 32n }, randFlags(), { mem: Uint8Array.from({ length: WINDOW }, () => rand() & 0xff) });
  }
  for (const reg of ['rax', 'r14']) {
    const s = g.snippet({ asm: `bswap ${reg}`, in: [reg], out: [reg] });
    for (const x of edges64()) s.add({ [reg]: x }, randFlags());
  }
}

// ---------------------------------------------------------------------------------------------

function assemble(work, snippets) {
  const lines = ['bits 64', `dd ${snippets.length}`];
  snippets.forEach((_, i) => lines.push(`dd S${i}, E${i}`));
  snippets.forEach((s, i) => {
    lines.push(`S${i}:`);
    for (const l of s.src.split('; ')) lines.push(`  ${l}`);
    lines.push(`E${i}:`);
  });
  const asmFile = join(work, 'snippets.asm');
  const binFile = join(work, 'snippets.bin');
  writeFileSync(asmFile, lines.join('\n') + '\n');
  execFileSync('nasm', ['-f', 'bin', '-w-number-overflow', '-o', binFile, asmFile], { stdio: 'inherit' });
  const bin = readFileSync(binFile);
  snippets.forEach((s, i) => {
    s.code = bin.subarray(bin.readUInt32LE(4 + 8 * i), bin.readUInt32LE(8 + 8 * i));
  });
}

function inputRegs(c) {
  const regs = SENTINELS.slice();
  for (const [name, v] of Object.entries(c.regs)) regs[REGS.indexOf(name)] = BigInt.asUintN(64, v);
  return regs;
}

const ORDER = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

function runNative(exe, all) {
  const lines = all.map(([s, c]) => {
    const r = inputRegs(c);
    const mem = s.mem ? hex(c.mem ?? new Uint8Array(s.mem)) : '-';
    return [hex(s.code), ...ORDER.map((i) => h64(r[i])), c.flags.toString(16), mem].join(' ');
  });
  const res = spawnSync(exe, [], { input: lines.join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`native harness failed: ${res.stderr}`);
  const out = res.stdout.trimEnd().split('\n');
  if (out.length !== all.length) throw new Error(`native harness gave ${out.length} results for ${all.length} cases`);
  return out;
}

const stats = {};

/** [flagsIn, ...inputs, flagsOut, ...outputs, extra?] with 64-bit values as hex strings. */
function encodeCase(s, c, line) {
  const inRegs = inputRegs(c);
  const row = [c.flags, ...s.in.map((r) => h64(c.regs[r]))];
  const extra = {};
  if (c.mask !== undefined && c.mask !== s.mask) extra.m = c.mask;
  if (c.undef) extra.u = c.undef;
  if (s.mem && c.mem) extra.mi = hex(c.mem);
  const parts = line.split(' ');
  if (parts[0] === 'SIG') {
    const fault = { 8: '#DE', 4: '#UD' }[Number(parts[1])];
    if (!fault) throw new Error(`${s.asm}: unexpected signal ${parts[1]}`);
    row.push(fault);
    stats[fault] = (stats[fault] ?? 0) + 1;
  } else {
    const full = new Array(16).fill(0n);
    ORDER.forEach((reg, i) => { full[reg] = BigInt('0x' + parts[1 + i]); });
    const flags = parseInt(parts[16], 16) & OBSERVED;
    for (let i = 0; i < 16; i++) {
      if (i === 4 || s.out.includes(REGS[i])) continue;
      if (full[i] !== inRegs[i]) throw new Error(`${s.asm}: ${REGS[i]} changed natively but is not an output`);
    }
    row.push(flags, ...s.out.map((r) => h64(full[REGS.indexOf(r)])));
    if (s.mem) extra.mo = parts[17];
  }
  if (Object.keys(extra).length) row.push(extra);
  return row;
}

function writeGroup(g, host) {
  const file = join(OUT_DIR, `${g.name}.json`);
  const head = {
    about: `${g.about}. Generated by scripts/gen-cpu-fixtures64.mjs from the host CPU; do not edit.`,
    host,
    hostMode: '64-bit user mode',
    codeAddr: CODE_ADDR,
    dataAddr: Number(DATA_ADDR),
    sentinels: SENTINELS.map(h64),
    format: 'case = [flagsIn, ...in (hex), flagsOut, ...out (hex), {m: defined-flag mask if not the snippet mask, u: undefined registers, mi/mo: data window in/out hex}?]; "#DE"/"#UD" replaces flagsOut and the outputs when the host raised SIGFPE/SIGILL',
  };
  const parts = ['{'];
  for (const [k, v] of Object.entries(head)) parts.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
  parts.push('  "snippets": [');
  g.snippets.forEach((s, i) => {
    const meta = { asm: s.asm, code: hex(s.code), in: s.in, out: s.out, mask: s.mask };
    if (s.mem) meta.mem = s.mem;
    parts.push(`    ${JSON.stringify(meta).slice(0, -1)}, "cases": [`);
    s.rows.forEach((r, j) => parts.push(`      ${JSON.stringify(r)}${j + 1 < s.rows.length ? ',' : ''}`));
    parts.push(`    ]}${i + 1 < g.snippets.length ? ',' : ''}`);
  });
  parts.push('  ]', '}');
  writeFileSync(file, parts.join('\n') + '\n');
  return file;
}

function main() {
  const work = mkdtempSync(join(tmpdir(), 'pcvm-cpu-fixtures64-'));
  try {
    const all = groups.flatMap((g) => g.snippets);
    assemble(work, all);
    const exe = join(work, 'harness64');
    execFileSync('gcc', ['-O1', '-Wall', '-no-pie', '-fno-pic', '-o', exe, HARNESS_C], { stdio: 'inherit' });
    const flat = [];
    for (const s of all) for (const c of s.cases) flat.push([s, c]);
    const lines = runNative(exe, flat);
    let k = 0;
    for (const s of all) s.rows = s.cases.map((c) => encodeCase(s, c, lines[k++]));
    const host = cpus()[0]?.model ?? 'unknown';
    mkdirSync(OUT_DIR, { recursive: true });
    let total = 0;
    console.log(`host: ${host}, 64-bit user mode`);
    for (const g of groups) {
      const file = writeGroup(g, host);
      const n = g.snippets.reduce((a, s) => a + s.cases.length, 0);
      total += n;
      console.log(`${g.name.padEnd(12)} ${String(g.snippets.length).padStart(4)} snippets ${String(n).padStart(6)} cases ${(readFileSync(file).length / 1024).toFixed(0).padStart(5)} KiB`);
    }
    console.log(`total ${total} cases (${stats['#DE'] ?? 0} #DE, ${stats['#UD'] ?? 0} #UD)`);
  } finally {
    if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  }
}

main();
