#!/usr/bin/env node
/**
 * Generates the CPU conformance fixtures under test/cpu/fixtures/ from the HOST CPU.
 *
 * v86 builds its CPU tests the same way: every snippet is assembled (here with nasm), run
 * natively with chosen input registers and flags (test/cpu/native/harness.c, built with
 * `gcc -m32`, so 32-bit operand sizes and the BCD instructions behave exactly as in a 32-bit
 * guest), and the registers, flags and memory the host produces become the expected values.
 * The emulator never takes part in making the expectations; the tests under test/cpu/ replay
 * the same bytes on our interpreter and compare.
 *
 * Each case records which flags the SDM defines for it (the instruction page's "Flags
 * Affected": AF after logic ops, OF after multi-bit shifts, SF/ZF/AF/PF after MUL, all after
 * DIV...). The tests compare only those; where our CPU's choice for an undefined flag differs
 * from the host, the tests report it without failing (set PCVM_CPU_UNDEFINED_REPORT=1).
 *
 * Requirements: x86 host, gcc with 32-bit support (`apt-get install gcc-multilib`), nasm.
 *
 * Usage: node scripts/gen-cpu-fixtures.mjs [--report]
 *   --report  afterwards run the CPU tests with the undefined-flag report switched on.
 *   KEEP=1    keep the temporary directory (snippets.asm, the harness binary) for debugging.
 *
 * The fixtures are committed: running the tests needs neither gcc nor nasm.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'test/cpu/fixtures');
const HARNESS_C = join(ROOT, 'test/cpu/native/harness.c');

/** Must match test/cpu/native/harness.c and test/helpers/cpu-harness.ts. */
const CODE_ADDR = 0x00100000;
const DATA_ADDR = 0x00110000;

const REGS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** Values of registers a snippet does not take as input: they must come back unchanged. */
const SENTINELS = [0xa0a1a2a3, 0xc0c1c2c3, 0xd0d1d2d3, 0xb0b1b2b3, 0, 0xe0e1e2e3, 0x51525354, 0xd1d2d3d4];

// EFLAGS bits.
const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
const ARITH = CF | PF | AF | ZF | SF | OF;
/** Everything a case can observe: the six arithmetic flags and DF. */
const ALL = ARITH | DF;
/** Bits the native run reports (the rest are IF and reserved bits of the Linux process). */
const OBSERVED = ALL | 0x2;

// ---------------------------------------------------------------------------------------------
// Deterministic inputs
// ---------------------------------------------------------------------------------------------

/** xorshift32: fixtures must not change when nothing changed. */
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
const maskOf = (size) => (size === 32 ? 0xffffffff : size === 16 ? 0xffff : 0xff);
const signOf = (size) => (size === 32 ? 0x80000000 : size === 16 ? 0x8000 : 0x80);

/** Edge operands of each size, plus two random ones. */
function edges(size) {
  const base = {
    8: [0, 1, 0x0f, 0x10, 0x7f, 0x80, 0x81, 0xfe, 0xff],
    16: [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xfffe, 0xffff],
    32: [0, 1, 0x7f, 0x80, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff],
  }[size];
  return [...base, rand() & maskOf(size), rand() & maskOf(size)];
}

/** A register holding `v` in its low `size` bits (or bits 8-15 for AH-style `hi`) and noise elsewhere. */
function put(size, v, hi = false) {
  if (size === 32) return v >>> 0;
  const shift = hi ? 8 : 0;
  const m = maskOf(size) << shift;
  return ((rand() & ~m) | ((v << shift) & m)) >>> 0;
}

/** Random arithmetic flags (DF clear), with CF forced when given. */
function randFlags(cf) {
  let f = (rand() & ARITH) | 0x2;
  if (cf !== undefined) f = (f & ~CF) | (cf ? CF : 0);
  return f;
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rand() & 0xff;
  return b;
}

// ---------------------------------------------------------------------------------------------
// Snippets and groups
// ---------------------------------------------------------------------------------------------

/**
 * A snippet: `asm` (nasm syntax, instructions separated by "; "), or `src` for raw bytes with
 * `asm` as its display name. `in` lists input registers, `out` the registers it may change;
 * every other register must come back unchanged. `mask` is the default set of defined flags,
 * `mem` the size of the data window at DATA_ADDR that is compared (0: none).
 */
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
      /** Adds a case: `regs` by name, `flags`, optional `mem` bytes, `mask`/`undef` overrides. */
      add: (regs, flags, extra = {}) => {
        for (const r of Object.keys(regs)) {
          if (!s.in.includes(r)) throw new Error(`${s.asm}: register ${r} is not an input`);
        }
        s.cases.push({ regs, flags, ...extra });
      },
    };
  }
}

const groups = [];

// ---- ALU: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT ----------------------------------
{
  const g = new Group('alu', 101, 'ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT: register, immediate and memory forms, chained lazy flags');
  groups.push(g);
  const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
  const isLogic = (op) => op === 'and' || op === 'or' || op === 'xor' || op === 'test';
  const R = { 8: ['al', 'bl'], 16: ['ax', 'bx'], 32: ['eax', 'ebx'] };
  for (const size of [8, 16, 32]) {
    for (const op of [...ALU, 'test']) {
      const [a, b] = R[size];
      const s = g.snippet({
        asm: `${op} ${a}, ${b}`, in: ['eax', 'ebx'], out: op === 'cmp' || op === 'test' ? [] : ['eax'],
        mask: isLogic(op) ? ALL & ~AF : ALL,
      });
      const vals = edges(size);
      for (const x of vals) {
        for (const y of vals) {
          const cfs = op === 'adc' || op === 'sbb' ? [0, 1] : [undefined];
          for (const cf of cfs) s.add({ eax: put(size, x), ebx: put(size, y) }, randFlags(cf));
        }
      }
    }
  }
  // Immediate forms, including the sign-extended imm8 (83 /r) encodings.
  const imm = [
    ['add eax, byte -1', 32, 'eax'], ['adc ax, 0x8000', 16, 'eax'], ['sub al, 0x80', 8, 'eax'],
    ['cmp eax, 0x7fffffff', 32, 'eax'], ['and bl, 0x0f', 8, 'ebx'], ['xor ebx, byte -128', 32, 'ebx'],
    ['or cx, byte 1', 16, 'ecx'], ['sbb edx, 0x80000000', 32, 'edx'], ['add bh, 0x7f', 8, 'ebx', true],
    ['sbb cl, 0xff', 8, 'ecx'], ['test eax, 0x80000001', 32, 'eax'], ['test dl, 0x81', 8, 'edx'],
    ['cmp cx, byte -1', 16, 'ecx'], ['adc esi, byte 1', 32, 'esi'],
  ];
  for (const [asm, size, reg, hi] of imm) {
    const op = asm.split(' ')[0];
    const s = g.snippet({ asm, in: [reg], out: op === 'cmp' || op === 'test' ? [] : [reg], mask: isLogic(op) ? ALL & ~AF : ALL });
    for (const x of edges(size)) for (const cf of [0, 1]) s.add({ [reg]: put(size, x, hi) }, randFlags(cf));
  }
  // Alternative encodings: 82 (group 1 byte alias, valid outside 64-bit mode).
  for (const [asm, src] of [['add al, 0x7f (82 /0)', 'db 0x82, 0xc0, 0x7f'], ['sbb al, 0x80 (82 /3)', 'db 0x82, 0xd8, 0x80'], ['cmp al, 0xff (82 /7)', 'db 0x82, 0xf8, 0xff']]) {
    const s = g.snippet({ asm, src, in: ['eax'], out: asm.startsWith('cmp') ? [] : ['eax'] });
    for (const x of edges(8)) for (const cf of [0, 1]) s.add({ eax: put(8, x) }, randFlags(cf));
  }
  // High-byte registers.
  for (const [asm, ra, rb] of [['add ah, bh', 'eax', 'ebx'], ['sbb ch, dh', 'ecx', 'edx'], ['xor dh, al', 'edx', 'eax'], ['cmp bh, cl', 'ebx', 'ecx']]) {
    const op = asm.split(' ')[0];
    const s = g.snippet({ asm, in: [ra, rb], out: op === 'cmp' ? [] : [ra], mask: isLogic(op) ? ALL & ~AF : ALL });
    const hiA = asm.split(' ')[1][1] === 'h';
    const hiB = asm.split(' ')[2][1] === 'h';
    const vals = edges(8);
    for (const x of vals) for (const y of vals) s.add({ [ra]: put(8, x, hiA), [rb]: put(8, y, hiB) }, randFlags(rand() & 1));
  }
  // Memory operands (the data window at DATA_ADDR, addressed through ESI).
  const memForms = [
    ['add [esi], ebx', 32, [], true], ['sub byte [esi], bl', 8, [], true], ['adc word [esi], bx', 16, [], true],
    ['xor ebx, [esi]', 32, ['ebx'], false], ['cmp [esi], ebx', 32, [], false], ['sbb bl, [esi]', 8, ['ebx'], false],
  ];
  for (const [asm, size, out] of memForms) {
    const op = asm.split(' ')[0];
    const s = g.snippet({ asm, in: ['ebx', 'esi'], out, mask: isLogic(op) ? ALL & ~AF : ALL, mem: 8 });
    const vals = edges(size).slice(0, 8);
    for (const x of vals) {
      for (const y of vals) {
        const m = randomBytes(8);
        for (let i = 0; i < size / 8; i++) m[i] = (x >>> (8 * i)) & 0xff;
        s.add({ ebx: put(size, y), esi: DATA_ADDR }, randFlags(rand() & 1), { mem: m });
      }
    }
  }
  // One-operand forms.
  const unary = { 8: ['al', 'eax'], 16: ['ax', 'eax'], 32: ['eax', 'eax'] };
  for (const op of ['inc', 'dec', 'neg', 'not']) {
    for (const size of [8, 16, 32]) {
      const [r, reg] = unary[size];
      const s = g.snippet({ asm: `${op} ${r}`, in: [reg], out: [reg] });
      for (const x of edges(size)) for (const cf of [0, 1]) s.add({ [reg]: put(size, x) }, randFlags(cf));
    }
  }
  for (const asm of ['inc byte [esi]', 'dec dword [esi]', 'neg word [esi]', 'not dword [esi]']) {
    const size = asm.includes('byte') ? 8 : asm.includes('word [') && !asm.includes('dword') ? 16 : 32;
    const s = g.snippet({ asm, in: ['esi'], out: [], mem: 4 });
    for (const x of edges(size)) {
      const m = randomBytes(4);
      for (let i = 0; i < size / 8; i++) m[i] = (x >>> (8 * i)) & 0xff;
      s.add({ esi: DATA_ADDR }, randFlags(rand() & 1), { mem: m });
    }
  }
  // Chains: the flags one instruction leaves are the input of the next (lazy flags in our CPU).
  const chains = [
    ['add eax, ebx; inc ecx', ['eax', 'ebx', 'ecx'], ['eax', 'ecx']],
    ['sub eax, ebx; dec ecx', ['eax', 'ebx', 'ecx'], ['eax', 'ecx']],
    ['cmp eax, ebx; sbb ecx, ecx', ['eax', 'ebx', 'ecx'], ['ecx']],
    ['add al, bl; adc ah, bh', ['eax', 'ebx'], ['eax']],
    ['sub ax, bx; sbb cx, dx', ['eax', 'ebx', 'ecx', 'edx'], ['eax', 'ecx']],
    ['inc eax; adc ebx, ecx', ['eax', 'ebx', 'ecx'], ['eax', 'ebx']],
    ['dec al; sbb bl, cl', ['eax', 'ebx', 'ecx'], ['eax', 'ebx']],
    ['xor eax, ebx; adc ecx, 0', ['eax', 'ebx', 'ecx'], ['eax', 'ecx']],
    ['neg eax; adc ebx, ebx', ['eax', 'ebx'], ['eax', 'ebx']],
    ['add eax, ebx; inc ecx; adc edx, 0', ['eax', 'ebx', 'ecx', 'edx'], ['eax', 'ecx', 'edx']],
  ];
  for (const [asm, ins, out] of chains) {
    const s = g.snippet({ asm, in: ins, out, mask: asm.startsWith('xor') ? ALL & ~AF : ALL });
    const vals = edges(32).slice(0, 10);
    for (const x of vals) {
      for (const y of vals) {
        const regs = {};
        for (const r of ins) regs[r] = rand();
        regs[ins[0]] = x;
        regs[ins[1]] = y;
        if (ins.includes('ecx') && (rand() & 3) === 0) regs.ecx = [0xffffffff, 0x7fffffff, 0x8000ffff, 0x80][rand() & 3];
        s.add(regs, randFlags(rand() & 1));
      }
    }
  }
}

// ---- Shifts and rotates, SHLD/SHRD -------------------------------------------------------------
{
  const g = new Group('shifts', 202, 'ROL ROR RCL RCR SHL SHR SAR by CL, by 1 and by imm8; SHLD SHRD');
  groups.push(g);
  const OPS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'];
  const COUNTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33];
  /** Defined flags after a group-2 shift (SDM Vol. 2B SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR). */
  const shiftMask = (op, size, count) => {
    const c = count & 31;
    if (c === 0) return ALL; // no flag changes
    if (op[0] === 'r') return c === 1 ? ALL : ALL & ~OF; // rotates: CF, and OF only for 1
    let m = ALL & ~AF;
    if (c !== 1) m &= ~OF;
    if ((op === 'shl' || op === 'shr') && c >= size) m &= ~CF;
    return m;
  };
  const R = { 8: 'al', 16: 'ax', 32: 'eax' };
  for (const size of [8, 16, 32]) {
    const vals = edges(size);
    for (const op of OPS) {
      const s = g.snippet({ asm: `${op} ${R[size]}, cl`, in: ['eax', 'ecx'], out: ['eax'] });
      for (const x of vals) {
        for (const count of COUNTS) {
          for (const cf of [0, 1]) {
            s.add({ eax: put(size, x), ecx: put(8, count) }, randFlags(cf), { mask: shiftMask(op, size, count) });
          }
        }
      }
      for (const count of [1, 5, size === 8 ? 9 : 31]) {
        const s2 = g.snippet({ asm: count === 1 ? `${op} ${R[size]}, 1` : `${op} ${R[size]}, byte ${count}`, in: ['eax'], out: ['eax'], mask: shiftMask(op, size, count) });
        for (const x of vals) for (const cf of [0, 1]) s2.add({ eax: put(size, x) }, randFlags(cf));
      }
    }
  }
  // D1 /6 and C1 /6 (SAL, the undocumented twin of SHL), and imm8 counts that mask to 0 and 1.
  for (const [asm, src, count, size] of [
    ['sal eax, 1 (D1 /6)', 'db 0xd1, 0xf0', 1, 32], ['sal al, cl (D2 /6)', 'db 0xd2, 0xf0', -1, 8],
    ['shl eax, byte 32', 'db 0xc1, 0xe0, 32', 32, 32], ['rol ax, byte 33', 'db 0x66, 0xc1, 0xc0, 33', 33, 16],
    ['rcr eax, byte 33', 'db 0xc1, 0xd8, 33', 33, 32], ['sar al, byte 0xff', 'db 0xc0, 0xf8, 0xff', 0xff, 8],
  ]) {
    const op = asm.slice(0, 3) === 'sal' ? 'shl' : asm.slice(0, 3);
    const s = g.snippet({ asm, src, in: ['eax', 'ecx'], out: ['eax'], mask: count >= 0 ? shiftMask(op, size, count) : ALL });
    for (const x of edges(size)) {
      for (const cf of [0, 1]) {
        const c = count >= 0 ? rand() : [0, 1, 3, 8, 9, 31][rand() % 6];
        s.add({ eax: put(size, x), ecx: c }, randFlags(cf), count >= 0 ? {} : { mask: shiftMask('shl', size, c) });
      }
    }
  }
  const mems = ['shl dword [esi], cl', 'rcr byte [esi], cl', 'sar word [esi], cl'];
  for (const asm of mems) {
    const size = asm.includes('dword') ? 32 : asm.includes('byte') ? 8 : 16;
    const op = asm.slice(0, 3);
    const s = g.snippet({ asm, in: ['ecx', 'esi'], out: [], mem: 4 });
    for (const x of edges(size).slice(0, 6)) {
      for (const count of COUNTS) {
        const m = randomBytes(4);
        for (let i = 0; i < size / 8; i++) m[i] = (x >>> (8 * i)) & 0xff;
        s.add({ ecx: put(8, count), esi: DATA_ADDR }, randFlags(rand() & 1), { mem: m, mask: shiftMask(op, size, count) });
      }
    }
  }
  /** SHLD/SHRD: result and flags undefined for a count above the operand size. */
  const dshMask = (size, count) => {
    const c = count & 31;
    if (c === 0) return ALL;
    if (c > size) return DF;
    let m = ALL & ~AF;
    if (c !== 1) m &= ~OF;
    return m;
  };
  for (const size of [16, 32]) {
    const [a, b] = size === 16 ? ['ax', 'bx'] : ['eax', 'ebx'];
    const vals = edges(size).slice(0, 7);
    vals.push(rand() & maskOf(size));
    for (const op of ['shld', 'shrd']) {
      const s = g.snippet({ asm: `${op} ${a}, ${b}, cl`, in: ['eax', 'ebx', 'ecx'], out: ['eax'] });
      for (const x of vals) {
        for (const y of vals) {
          for (const count of COUNTS) {
            const c = count & 31;
            s.add({ eax: put(size, x), ebx: put(size, y), ecx: put(8, count) }, randFlags(rand() & 1), {
              mask: dshMask(size, count), undef: c > size ? ['eax'] : undefined,
            });
          }
        }
      }
      for (const count of [1, 4, size === 16 ? 16 : 31]) {
        const s2 = g.snippet({ asm: `${op} ${a}, ${b}, ${count}`, in: ['eax', 'ebx'], out: ['eax'], mask: dshMask(size, count) });
        for (const x of vals) for (const y of vals) s2.add({ eax: put(size, x), ebx: put(size, y) }, randFlags(rand() & 1));
      }
    }
  }
  {
    const s = g.snippet({ asm: 'shrd [esi], ebx, cl', in: ['ebx', 'ecx', 'esi'], out: [], mem: 4 });
    for (const y of edges(32).slice(0, 6)) {
      for (const count of COUNTS) s.add({ ebx: y, ecx: put(8, count), esi: DATA_ADDR }, randFlags(rand() & 1), { mem: randomBytes(4), mask: dshMask(32, count) });
    }
  }
}

// ---- MUL IMUL DIV IDIV ------------------------------------------------------------------------
{
  const g = new Group('muldiv', 303, 'MUL, IMUL (one, two and three operands), DIV, IDIV including #DE');
  groups.push(g);
  const MUL_MASK = CF | OF | DF; // SF ZF AF PF are undefined
  const R = { 8: 'bl', 16: 'bx', 32: 'ebx' };
  for (const op of ['mul', 'imul']) {
    for (const size of [8, 16, 32]) {
      const s = g.snippet({ asm: `${op} ${R[size]}`, in: ['eax', 'ebx'], out: size === 8 ? ['eax'] : ['eax', 'edx'], mask: MUL_MASK });
      const vals = edges(size);
      for (const x of vals) for (const y of vals) s.add({ eax: put(size, x), ebx: put(size, y) }, randFlags());
    }
  }
  for (const [asm, size, ins, out] of [
    ['imul ax, bx', 16, ['eax', 'ebx'], ['eax']], ['imul eax, ebx', 32, ['eax', 'ebx'], ['eax']],
    ['imul ecx, [esi]', 32, ['ecx', 'esi'], ['ecx']],
  ]) {
    const s = g.snippet({ asm, in: ins, out, mask: MUL_MASK, mem: asm.includes('[') ? 4 : 0 });
    const vals = edges(size);
    for (const x of vals) {
      for (const y of vals) {
        if (asm.includes('[')) {
          const m = new Uint8Array([y & 0xff, (y >>> 8) & 0xff, (y >>> 16) & 0xff, y >>> 24]);
          s.add({ ecx: x, esi: DATA_ADDR }, randFlags(), { mem: m });
        } else {
          s.add({ eax: put(size, x), ebx: put(size, y) }, randFlags());
        }
      }
    }
  }
  for (const [asm, size] of [
    ['imul eax, ebx, -2', 32], ['imul eax, ebx, 0x12345678', 32], ['imul ax, bx, 0x7fff', 16],
    ['imul cx, bx, byte -1', 16], ['imul edx, ebx, 0x80000000', 32], ['imul ebx, ebx, 3', 32],
  ]) {
    const dst = asm.split(' ')[1].replace(',', '');
    const dreg = { eax: 'eax', ax: 'eax', cx: 'ecx', edx: 'edx', ebx: 'ebx' }[dst];
    const ins = dreg === 'ebx' ? ['ebx'] : [dreg, 'ebx'];
    const s = g.snippet({ asm, in: ins, out: [dreg], mask: MUL_MASK });
    for (const y of edges(size)) {
      const regs = { ebx: put(size, y) };
      if (dreg !== 'ebx') regs[dreg] = rand();
      s.add(regs, randFlags());
    }
  }
  // Division. Flags are all undefined; #DE cases are faults that leave the registers alone.
  const DIV_MASK = DF;
  const divisors = {
    8: [0, 1, 2, 3, 7, 0x10, 0x7f, 0x80, 0x81, 0xfe, 0xff],
    16: [0, 1, 2, 3, 10, 0x7f, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff],
    32: [0, 1, 2, 3, 10, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff],
  };
  const dividends = {
    8: [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7f00, 0x7fff, 0x8000, 0xff80, 0xff7f, 0xffff, 0xfe00],
    16: [0, 1, 0xffff, 0x10000, 0x7fff, 0x8000, 0x7fffffff, 0x80000000, 0xffff8000, 0xffff7fff, 0xffffffff, 0x7fff0000],
    32: [[0, 0], [0, 1], [0, 0xffffffff], [1, 0], [0x7fffffff, 0xffffffff], [0x80000000, 0], [0xffffffff, 0x80000000],
      [0xffffffff, 0x7fffffff], [0xffffffff, 0xffffffff], [0xfffffffe, 0], [0x12345, 0x6789abcd]],
  };
  for (const op of ['div', 'idiv']) {
    for (const size of [8, 16, 32]) {
      const ins = size === 8 ? ['eax', 'ebx'] : ['eax', 'edx', 'ebx'];
      const s = g.snippet({ asm: `${op} ${R[size]}`, in: ins, out: size === 8 ? ['eax'] : ['eax', 'edx'], mask: DIV_MASK });
      const ds = [...divisors[size], rand() & maskOf(size), (rand() & maskOf(size)) | 1];
      const ns = [...dividends[size]];
      if (size === 32) ns.push([rand() & 0xff, rand()], [rand(), rand()]);
      else ns.push(rand() & (size === 8 ? 0xffff : 0xffffffff));
      for (const n of ns) {
        for (const d of ds) {
          if (size === 8) s.add({ eax: put(16, n), ebx: put(8, d) }, randFlags());
          else if (size === 16) s.add({ eax: put(16, n & 0xffff), edx: put(16, n >>> 16), ebx: put(16, d) }, randFlags());
          else s.add({ edx: n[0], eax: n[1], ebx: d }, randFlags());
        }
      }
    }
  }
  for (const asm of ['div byte [esi]', 'idiv dword [esi]']) {
    const size = asm.includes('byte') ? 8 : 32;
    const s = g.snippet({ asm, in: ['eax', 'edx', 'esi'], out: size === 8 ? ['eax'] : ['eax', 'edx'], mask: DIV_MASK, mem: 4 });
    for (const d of divisors[size]) {
      const m = new Uint8Array([d & 0xff, (d >>> 8) & 0xff, (d >>> 16) & 0xff, d >>> 24]);
      s.add({ eax: rand(), edx: size === 8 ? rand() : rand() & 0xf, esi: DATA_ADDR }, randFlags(), { mem: m });
    }
  }
}

// ---- BSF BSR BT BTS BTR BTC BSWAP --------------------------------------------------------------
{
  const g = new Group('bitops', 404, 'BSF BSR, BT BTS BTR BTC (register, immediate and memory bit-string forms), BSWAP');
  groups.push(g);
  for (const size of [16, 32]) {
    const [a, b] = size === 16 ? ['ax', 'bx'] : ['eax', 'ebx'];
    const vals = [...edges(size), 0x10, 0x100, signOf(size) >>> 1, 0x3c0 & maskOf(size), rand() & maskOf(size) & 0x00f0f0f0];
    for (const op of ['bsf', 'bsr']) {
      // Only ZF is defined; the destination is undefined (Intel) / unchanged (AMD) for a zero source.
      const s = g.snippet({ asm: `${op} ${a}, ${b}`, in: ['eax', 'ebx'], out: ['eax'], mask: ZF | DF });
      for (const y of vals) s.add({ eax: rand(), ebx: put(size, y) }, randFlags(), { undef: y === 0 ? ['eax'] : undefined });
    }
    const offsets = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 0xffff, 0xffffffff, rand(), rand()];
    for (const op of ['bt', 'bts', 'btr', 'btc']) {
      // CF is the bit; ZF is unaffected; OF SF AF PF are undefined.
      const s = g.snippet({ asm: `${op} ${a}, ${b}`, in: ['eax', 'ebx'], out: op === 'bt' ? [] : ['eax'], mask: CF | ZF | DF });
      for (const x of edges(size).slice(0, 8)) for (const o of offsets) s.add({ eax: put(size, x), ebx: put(size, o) }, randFlags());
    }
  }
  for (const [asm, src, size] of [
    ['bt eax, 5', 'bt eax, 5', 32], ['bts eax, 31', 'bts eax, 31', 32], ['btr ax, 15', 'btr ax, 15', 16],
    ['btc eax, 0', 'btc eax, 0', 32], ['bt eax, 40', 'db 0x0f, 0xba, 0xe0, 40', 32], ['bts ax, 20', 'db 0x66, 0x0f, 0xba, 0xe8, 20', 16],
  ]) {
    const op = asm.split(' ')[0];
    const s = g.snippet({ asm, src, in: ['eax'], out: op === 'bt' ? [] : ['eax'], mask: CF | ZF | DF });
    for (const x of edges(size)) s.add({ eax: put(size, x) }, randFlags());
  }
  // Bit strings in memory: a register offset reaches beyond the addressed operand, signed.
  const WINDOW = 64;
  const BASE = DATA_ADDR + 32;
  for (const [asm, size] of [['bt [esi], eax', 32], ['bts [esi], eax', 32], ['btr [esi], eax', 32], ['btc [esi], eax', 32], ['bts [esi], ax', 16], ['btr [esi], ax', 16]]) {
    const s = g.snippet({ asm, in: ['eax', 'esi'], out: [], mask: CF | ZF | DF, mem: WINDOW });
    const offs = [0, 1, 31, 32, 33, -1, -2, -31, -32, -33, 100, -100, 255, -256, 17];
    for (let i = 0; i < 6; i++) offs.push((rand() % 512) - 256);
    for (const o of offs) s.add({ eax: put(size, o & maskOf(size)), esi: BASE }, randFlags(), { mem: randomBytes(WINDOW) });
  }
  for (const asm of ['bt dword [esi], 35', 'btc word [esi], 17', 'bts dword [esi], 7']) {
    const src = asm === 'bt dword [esi], 35' ? 'db 0x0f, 0xba, 0x26, 35' : asm;
    const s = g.snippet({ asm, src, in: ['esi'], out: [], mask: CF | ZF | DF, mem: 8 });
    for (let i = 0; i < 8; i++) s.add({ esi: DATA_ADDR }, randFlags(), { mem: randomBytes(8) });
  }
  for (const [asm, reg] of [['bswap eax', 'eax'], ['bswap esi', 'esi']]) {
    const s = g.snippet({ asm, in: [reg], out: [reg] });
    for (const x of edges(32)) s.add({ [reg]: x }, randFlags());
  }
  {
    // BSWAP with a 16-bit operand is undefined (Intel and AMD zero it): reported only.
    const s = g.snippet({ asm: 'bswap ax', src: 'db 0x66, 0x0f, 0xc8', in: ['eax'], out: ['eax'] });
    for (const x of edges(32).slice(0, 6)) s.add({ eax: x }, randFlags(), { undef: ['eax'] });
  }
}

// ---- MOVSX MOVZX CBW CWDE CWD CDQ ---------------------------------------------------------------
{
  const g = new Group('extend', 505, 'MOVSX MOVZX (register and memory sources), CBW CWDE CWD CDQ');
  groups.push(g);
  for (const [asm, from, hi] of [
    ['movsx eax, bl', 8], ['movsx eax, bx', 16], ['movsx ax, bl', 8], ['movzx eax, bl', 8], ['movzx eax, bx', 16],
    ['movzx ax, bl', 8], ['movzx eax, bh', 8, true], ['movsx ecx, bh', 8, true], ['movsx cx, bl', 8],
  ]) {
    const dst = asm.split(' ')[1].replace(',', '');
    const dreg = dst.includes('c') ? 'ecx' : 'eax';
    const s = g.snippet({ asm, in: [dreg, 'ebx'], out: [dreg] });
    for (const x of edges(from)) s.add({ [dreg]: rand(), ebx: put(from, x, hi) }, randFlags());
  }
  for (const [asm, src] of [['movzx ax, bx (66 0F B7)', 'db 0x66, 0x0f, 0xb7, 0xc3'], ['movsx ax, bx (66 0F BF)', 'db 0x66, 0x0f, 0xbf, 0xc3']]) {
    const s = g.snippet({ asm, src, in: ['eax', 'ebx'], out: ['eax'] });
    for (const x of edges(16)) s.add({ eax: rand(), ebx: put(16, x) }, randFlags());
  }
  for (const asm of ['movsx eax, byte [esi]', 'movzx ecx, word [esi]', 'movsx dx, byte [esi]']) {
    const dreg = asm.includes('eax') ? 'eax' : asm.includes('ecx') ? 'ecx' : 'edx';
    const s = g.snippet({ asm, in: [dreg, 'esi'], out: [dreg], mem: 2 });
    for (const x of edges(16)) s.add({ [dreg]: rand(), esi: DATA_ADDR }, randFlags(), { mem: new Uint8Array([x & 0xff, x >>> 8]) });
  }
  for (const [asm, ins, out, size] of [
    ['cbw', ['eax'], ['eax'], 8], ['cwde', ['eax'], ['eax'], 16], ['cwd', ['eax', 'edx'], ['edx'], 16], ['cdq', ['eax', 'edx'], ['edx'], 32],
  ]) {
    const s = g.snippet({ asm, in: ins, out });
    for (const x of edges(size)) {
      const regs = { eax: put(size, x) };
      if (ins.includes('edx')) regs.edx = rand();
      s.add(regs, randFlags());
    }
  }
}

// ---- XADD CMPXCHG CMPXCHG8B -------------------------------------------------------------------
{
  const g = new Group('exchange', 606, 'XADD, CMPXCHG (register and memory), CMPXCHG8B');
  groups.push(g);
  const R = { 8: ['bl', 'cl'], 16: ['bx', 'cx'], 32: ['ebx', 'ecx'] };
  for (const size of [8, 16, 32]) {
    const [b, c] = R[size];
    const vals = edges(size).slice(0, 9);
    {
      const s = g.snippet({ asm: `xadd ${b}, ${c}`, in: ['ebx', 'ecx'], out: ['ebx', 'ecx'] });
      for (const x of vals) for (const y of vals) s.add({ ebx: put(size, x), ecx: put(size, y) }, randFlags());
    }
    {
      const s = g.snippet({ asm: `cmpxchg ${b}, ${c}`, in: ['eax', 'ebx', 'ecx'], out: ['eax', 'ebx'] });
      for (const x of vals) {
        for (const y of vals) {
          // Half the cases compare equal.
          s.add({ eax: put(size, x), ebx: put(size, y), ecx: put(size, rand()) }, randFlags());
          s.add({ eax: put(size, y), ebx: put(size, y), ecx: put(size, x) }, randFlags());
        }
      }
    }
  }
  for (const [asm, size] of [['xadd [esi], ebx', 32], ['xadd byte [esi], bl', 8], ['cmpxchg [esi], ecx', 32], ['cmpxchg word [esi], cx', 16]]) {
    const isX = asm.startsWith('xadd');
    const s = g.snippet({ asm, in: isX ? ['ebx', 'esi'] : ['eax', 'ecx', 'esi'], out: isX ? ['ebx'] : ['eax'], mem: 4 });
    for (const x of edges(size).slice(0, 8)) {
      const m = randomBytes(4);
      for (let i = 0; i < size / 8; i++) m[i] = (x >>> (8 * i)) & 0xff;
      const cur = m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] << 24);
      if (isX) s.add({ ebx: put(size, rand()), esi: DATA_ADDR }, randFlags(), { mem: m });
      else {
        s.add({ eax: put(size, rand()), ecx: rand(), esi: DATA_ADDR }, randFlags(), { mem: m });
        s.add({ eax: put(size, cur & maskOf(size)), ecx: rand(), esi: DATA_ADDR }, randFlags(), { mem: m });
      }
    }
  }
  {
    const s = g.snippet({ asm: 'cmpxchg8b [esi]', in: ['eax', 'edx', 'ebx', 'ecx', 'esi'], out: ['eax', 'edx'], mem: 8 });
    for (let i = 0; i < 24; i++) {
      const m = randomBytes(8);
      const lo = (m[0] | (m[1] << 8) | (m[2] << 16) | (m[3] << 24)) >>> 0;
      const hi = (m[4] | (m[5] << 8) | (m[6] << 16) | (m[7] << 24)) >>> 0;
      const kind = i % 4; // 0 equal, 1 low differs, 2 high differs, 3 both differ
      const eax = kind === 1 || kind === 3 ? (lo ^ (1 << (rand() & 31))) >>> 0 : lo;
      const edx = kind === 2 || kind === 3 ? (hi ^ (1 << (rand() & 31))) >>> 0 : hi;
      s.add({ eax, edx, ebx: rand(), ecx: rand(), esi: DATA_ADDR }, randFlags(), { mem: m });
    }
  }
}

// ---- SETcc CMOVcc Jcc LAHF SAHF CMC CLC STC SALC -----------------------------------------------
{
  const g = new Group('conditions', 707, 'SETcc CMOVcc Jcc for all 16 conditions over flag combinations and after flag-setting instructions; LAHF SAHF CMC CLC STC SALC');
  groups.push(g);
  const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  const NEG = ['no', 'o', 'ae', 'b', 'ne', 'e', 'a', 'be', 'ns', 's', 'np', 'p', 'ge', 'l', 'g', 'le'];
  /** All 64 combinations of the six arithmetic flags. */
  const combos = [];
  for (let i = 0; i < 64; i++) {
    let f = 0x2;
    [CF, PF, AF, ZF, SF, OF].forEach((bit, k) => { if (i & (1 << k)) f |= bit; });
    combos.push(f);
  }
  /** The 32 combinations that matter to conditions (AF clear). */
  const combos32 = combos.filter((f) => !(f & AF));
  for (let cc = 0; cc < 16; cc++) {
    const s = g.snippet({ asm: `set${CC[cc]} al`, in: ['eax'], out: ['eax'] });
    for (const f of combos) s.add({ eax: rand() }, f);
  }
  for (let cc = 0; cc < 16; cc++) {
    for (const [a, b] of [['eax', 'ebx'], ['ax', 'bx']]) {
      const s = g.snippet({ asm: `cmov${CC[cc]} ${a}, ${b}`, in: ['eax', 'ebx'], out: ['eax'] });
      for (const f of combos32) s.add({ eax: rand(), ebx: rand() }, f);
    }
  }
  {
    const s = g.snippet({ asm: 'cmovl ecx, [esi]', in: ['ecx', 'esi'], out: ['ecx'], mem: 4 });
    for (const f of combos.slice(0, 32)) s.add({ ecx: rand(), esi: DATA_ADDR }, f, { mem: randomBytes(4) });
  }
  // All 16 SETcc after a flag-setting instruction (lazily evaluated flags in our CPU).
  const setAll = CC.map((c, i) => `set${c} [esi+${i}]`).join('; ');
  const setters = [
    ['cmp eax, ebx', 32], ['sub ax, bx', 16], ['add al, bl', 8], ['adc eax, ebx', 32], ['sbb al, bl', 8],
    ['test eax, ebx', 32], ['and ax, bx', 16], ['xor al, bl', 8], ['or eax, ebx', 32], ['inc eax', 32], ['dec ax', 16],
    ['neg al', 8], ['cmp al, bl', 8],
  ];
  for (const [setter, size] of setters) {
    const op = setter.split(' ')[0];
    const out = op === 'cmp' || op === 'test' ? [] : ['eax'];
    const s = g.snippet({ asm: `${setter}; ${setAll}`, in: ['eax', 'ebx', 'esi'], out, mem: 16, mask: ['and', 'or', 'xor', 'test'].includes(op) ? ALL & ~AF : ALL });
    const vals = edges(size).slice(0, 10);
    for (const x of vals) for (const y of vals) s.add({ eax: put(size, x), ebx: put(size, y), esi: DATA_ADDR }, randFlags(rand() & 1));
  }
  // Jcc short and near: bit k of ECX is set when condition k holds (LEA leaves the flags alone).
  for (const [setter, dist] of [['cmp eax, ebx', 'short'], ['sub eax, ebx', 'near'], ['inc eax', 'short'], ['add al, bl', 'near']]) {
    const body = CC.map((_, k) => `j${NEG[k]} ${dist} .n${k}; lea ecx, [ecx+${1 << k}]; .n${k}:`).join('; ');
    const op = setter.split(' ')[0];
    const s = g.snippet({ asm: `${setter}; ${body}`, in: ['eax', 'ebx', 'ecx'], out: op === 'cmp' ? ['ecx'] : ['eax', 'ecx'] });
    const size = setter.includes('al') ? 8 : 32;
    const vals = edges(size).slice(0, 10);
    for (const x of vals) for (const y of vals) s.add({ eax: put(size, x), ebx: put(size, y), ecx: 0 }, randFlags(rand() & 1));
  }
  {
    const s = g.snippet({ asm: 'lahf', in: ['eax'], out: ['eax'] });
    for (const f of combos) s.add({ eax: rand() }, f);
  }
  {
    const s = g.snippet({ asm: 'sahf', in: ['eax'], out: [] });
    for (let ah = 0; ah < 256; ah++) s.add({ eax: put(8, ah, true) }, randFlags());
  }
  for (const asm of ['cmc', 'clc', 'stc']) {
    const s = g.snippet({ asm, in: [], out: [] });
    for (const f of combos) s.add({}, f);
  }
  {
    // SALC (D6): undocumented by Intel until recently, documented as reserved; present on both vendors in 32-bit mode.
    const s = g.snippet({ asm: 'salc', src: 'db 0xd6', in: ['eax'], out: ['eax'] });
    for (const f of combos.slice(0, 16)) s.add({ eax: rand() }, f);
  }
}

// ---- DAA DAS AAA AAS AAM AAD -----------------------------------------------------------------
{
  const g = new Group('bcd', 808, 'DAA DAS AAA AAS AAM AAD over every AL value (32-bit only instructions)');
  groups.push(g);
  for (const op of ['daa', 'das']) {
    const s = g.snippet({ asm: op, in: ['eax'], out: ['eax'], mask: ALL & ~OF });
    for (let al = 0; al < 256; al++) {
      for (const f of [0, CF, AF, CF | AF]) s.add({ eax: put(8, al) }, (randFlags() & ~(CF | AF)) | f);
    }
  }
  for (const op of ['aaa', 'aas']) {
    // Only AF and CF are defined.
    const s = g.snippet({ asm: op, in: ['eax'], out: ['eax'], mask: AF | CF | DF });
    for (let al = 0; al < 256; al++) {
      for (const af of [0, AF]) {
        const ah = [0, 0xff, 0x7f, 0x80, rand() & 0xff][rand() % 5];
        s.add({ eax: ((rand() & 0xffff0000) | (ah << 8) | al) >>> 0 }, (randFlags() & ~AF) | af);
      }
    }
  }
  // The usual pairing: an 8-bit add or subtract of packed BCD, then the adjustment reads the
  // AF/CF that instruction left.
  const bcd = () => { const v = rand() % 100; return ((v / 10) | 0) * 16 + (v % 10); };
  for (const [asm, mask] of [
    ['add al, bl; daa', ALL & ~OF], ['adc al, bl; daa', ALL & ~OF], ['sub al, bl; das', ALL & ~OF], ['sbb al, bl; das', ALL & ~OF],
    ['add al, bl; aaa', AF | CF | DF], ['sub al, bl; aas', AF | CF | DF], ['inc al; daa', ALL & ~OF], ['dec al; das', ALL & ~OF],
  ]) {
    const s = g.snippet({ asm, in: ['eax', 'ebx'], out: ['eax'], mask });
    const unpacked = asm.includes('aa');
    for (let i = 0; i < 64; i++) {
      const a = unpacked ? rand() % 10 : bcd();
      const b = unpacked ? rand() % 10 : bcd();
      s.add({ eax: put(8, i < 4 ? [0x99, 0x00, 0x09, 0x90][i] : a), ebx: put(8, b) }, randFlags(rand() & 1));
    }
  }
  // AAM/AAD: SF ZF PF defined; OF AF CF undefined. AAM 0 is #DE.
  for (const base of [10, 16, 7, 0]) {
    const s = g.snippet({ asm: base === 10 ? 'aam' : `aam ${base}`, in: ['eax'], out: ['eax'], mask: SF | ZF | PF | DF });
    const als = base === 0 ? [0, 1, 0x55, 0xff] : Array.from({ length: 256 }, (_, i) => i);
    for (const al of als) s.add({ eax: put(8, al) }, randFlags());
  }
  for (const base of [10, 16, 0, 0xff]) {
    const s = g.snippet({ asm: base === 10 ? 'aad' : `aad ${base}`, in: ['eax'], out: ['eax'], mask: SF | ZF | PF | DF });
    for (let al = 0; al < 256; al++) {
      const ah = [0, 1, 9, 0x19, 0xff, rand() & 0xff][rand() % 6];
      s.add({ eax: ((rand() & 0xffff0000) | (ah << 8) | al) >>> 0 }, randFlags());
    }
  }
}

// ---- String instructions -----------------------------------------------------------------------
{
  const g = new Group('string', 909, 'MOVS STOS LODS CMPS SCAS with and without REP/REPE/REPNE, DF 0 and 1');
  groups.push(g);
  const WINDOW = 64;
  const HALF = 32;
  const width = (asm) => (/b$/.test(asm) ? 1 : /w$/.test(asm) ? 2 : 4);
  const ops = [
    'rep movsb', 'rep movsw', 'rep movsd', 'movsb', 'movsd',
    'rep stosb', 'rep stosw', 'rep stosd', 'stosw',
    'lodsb', 'lodsd', 'rep lodsb',
    'repe cmpsb', 'repe cmpsw', 'repe cmpsd', 'repne cmpsb', 'repne cmpsd', 'cmpsb', 'cmpsw',
    'repe scasb', 'repne scasb', 'repne scasw', 'repe scasd', 'repne scasd', 'scasb',
  ];
  for (const asm of ops) {
    const w = width(asm);
    const isLods = asm.includes('lods');
    const s = g.snippet({ asm, in: ['eax', 'ecx', 'esi', 'edi'], out: isLods ? ['eax', 'ecx', 'esi'] : ['ecx', 'esi', 'edi'], mem: WINDOW });
    const counts = asm.startsWith('rep') ? [0, 1, 2, 3, 5, 8] : [0, 3];
    for (const df of [0, DF]) {
      for (const count of counts) {
        for (let variant = 0; variant < 2; variant++) {
          const m = randomBytes(WINDOW);
          // Source at [0, 32), destination at [32, 64); DF=1 starts at the last element.
          const si = df ? DATA_ADDR + HALF - w : DATA_ADDR;
          const di = df ? DATA_ADDR + WINDOW - w : DATA_ADDR + HALF;
          let eax = rand();
          if (asm.includes('cmps') || asm.includes('scas')) {
            // Make the destination match the source (or AL/AX/EAX) for a random prefix.
            const k = variant === 0 ? rand() % (count + 1) : count; // elements that match
            for (let e = 0; e < Math.max(count, 1); e++) {
              const doff = (di - DATA_ADDR) + (df ? -e * w : e * w);
              const soff = (si - DATA_ADDR) + (df ? -e * w : e * w);
              for (let i = 0; i < w; i++) {
                const want = asm.includes('scas') ? (eax >>> (8 * i)) & 0xff : m[soff + i];
                const neq = asm.startsWith('repne') ? e !== k : e >= k;
                m[doff + i] = neq && i === 0 ? want ^ (1 << (rand() & 7)) : want;
              }
            }
          }
          s.add({ eax, ecx: count === 0 && !asm.startsWith('rep') ? rand() : count, esi: si, edi: di }, randFlags() | df, { mem: m });
        }
      }
    }
  }
  // Alternative prefix orders and overrides; F2 on MOVS/STOS acts as REP.
  for (const [asm, src] of [
    ['rep movsw (F3 66 A5)', 'db 0xf3, 0x66, 0xa5'], ['repne movsb (F2 A4)', 'db 0xf2, 0xa4'], ['repne stosd (F2 AB)', 'db 0xf2, 0xab'],
    ['rep movsb with SS override (36 F3 A4)', 'db 0x36, 0xf3, 0xa4'], ['repe cmpsb with CS override (2E F3 A6)', 'db 0x2e, 0xf3, 0xa6'],
  ]) {
    const s = g.snippet({ asm, src, in: ['eax', 'ecx', 'esi', 'edi'], out: ['ecx', 'esi', 'edi'], mem: WINDOW });
    for (const count of [0, 1, 4, 7]) {
      const m = randomBytes(WINDOW);
      if (asm.includes('cmps')) m.copyWithin(HALF, 0, 3); // first three bytes equal
      s.add({ eax: rand(), ecx: count, esi: DATA_ADDR, edi: DATA_ADDR + HALF }, randFlags(), { mem: m });
    }
  }
  // Repeat counts beyond our CPU's 4096-iteration chunk (the instruction restarts in between).
  for (const [asm, count, out] of [['rep stosb', 5000, ['ecx', 'edi']], ['rep movsd', 4100, ['ecx', 'esi', 'edi']], ['repe cmpsb', 9000, ['ecx', 'esi', 'edi']], ['repne scasw', 4500, ['ecx', 'edi']]]) {
    const s = g.snippet({ asm, in: ['eax', 'ecx', 'esi', 'edi'], out, mem: WINDOW });
    // The rest of the 64 KiB data area is zero on both sides: CMPS/SCAS run through zeros.
    s.add({ eax: asm.includes('scas') ? 0x1234 : rand(), ecx: count, esi: DATA_ADDR, edi: DATA_ADDR + 0x7000 }, randFlags(), { mem: randomBytes(WINDOW) });
    s.add({ eax: 0, ecx: count, esi: DATA_ADDR + 0x100, edi: DATA_ADDR + 0x8000 }, randFlags(), { mem: randomBytes(WINDOW) });
  }
  {
    // Overlapping REP MOVSB (destination one byte above the source) must behave byte by byte.
    const s = g.snippet({ asm: 'rep movsb', in: ['ecx', 'esi', 'edi'], out: ['ecx', 'esi', 'edi'], mem: WINDOW });
    for (const count of [1, 7, 16, 31]) s.add({ ecx: count, esi: DATA_ADDR, edi: DATA_ADDR + 1 }, randFlags(), { mem: randomBytes(WINDOW) });
  }
}

// ---- Addressing: LEA, MOV with every ModRM/SIB shape, moffs, XLAT, XCHG ----------------------
{
  const g = new Group('addressing', 1010, 'LEA with 16- and 32-bit addressing forms, MOV through ModRM/SIB/moffs memory operands, XLAT, XCHG');
  groups.push(g);
  const ALLR = ['eax', 'ebx', 'ecx', 'edx', 'ebp', 'esi', 'edi'];
  const leas = [
    'lea eax, [ebx+ecx*4+0x12345678]', 'lea eax, [ebx+ecx]', 'lea eax, [ecx*8]', 'lea eax, [ecx*2+0x7f]', 'lea eax, [ebp-1]',
    'lea eax, [edi+esi*1-0x80]', 'lea eax, [ebp+edx*4]', 'lea edx, [0x80000000]', 'lea eax, [ebx+ebx*8+0x7fffffff]',
    'lea ax, [ebx+ecx*2+0x10]', 'lea ax, [bx+si+0x7fff]', 'lea eax, [bx+di]', 'lea eax, [bp+si-1]', 'lea eax, [bp+di+0x8000]',
    'lea eax, [si]', 'lea eax, [di+0x80]', 'lea eax, [bp+0x12]', 'lea eax, [bx-0x8000]', 'lea ax, [0xffff]',
  ];
  for (const asm of leas) {
    const dst = asm.split(' ')[1].replace(',', '');
    const dreg = dst.length === 2 ? `e${dst}` : dst;
    const s = g.snippet({ asm, in: ALLR, out: [dreg] });
    const picks = [0, 1, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
    for (let i = 0; i < 24; i++) {
      const regs = {};
      for (const r of ALLR) regs[r] = i < 12 ? picks[rand() % picks.length] : rand();
      s.add(regs, randFlags());
    }
  }
  // Memory through ModRM/SIB: ESI/EDI point into the data window, ECX/EBX are small indexes.
  const movs = [
    ['mov eax, [esi+ecx*4-8]', ['eax'], 32], ['mov [edi+ebx*2+3], ax', [], 16], ['mov al, [esi+ecx]', ['eax'], 8],
    ['mov [esi+ecx*8], ebx', [], 32], ['mov byte [esi+ebx], 0x7f', [], 8], ['mov dword [edi-4], 0x80000001', [], 32],
    ['mov bx, [edi+ecx*2]', ['ebx'], 16], ['mov eax, [ss:esi+4]', ['eax'], 32], ['mov eax, [es:edi]', ['eax'], 32],
    ['mov ah, [esi+0x10]', ['eax'], 8], ['mov [ebp+ecx], dl', [], 8], ['mov edx, [ebp+ebx*4+1]', ['edx'], 32],
  ];
  for (const [asm, out] of movs) {
    const s = g.snippet({ asm, in: ['eax', 'ebx', 'ecx', 'edx', 'ebp', 'esi', 'edi'], out, mem: 64 });
    for (let i = 0; i < 12; i++) {
      s.add({ eax: rand(), ebx: rand() & 7, ecx: rand() & 3, edx: rand(), ebp: DATA_ADDR + 8, esi: DATA_ADDR + 16, edi: DATA_ADDR + 32 }, randFlags(), { mem: randomBytes(64) });
    }
  }
  for (const [asm, src, out] of [
    ['mov al, [moffs 0x110005]', 'mov al, [dword 0x110005]', ['eax']], ['mov [moffs 0x110008], eax', 'mov [dword 0x110008], eax', []],
    ['mov ax, [moffs 0x110003]', 'mov ax, [dword 0x110003]', ['eax']], ['mov [moffs 0x11000f], al', 'mov [dword 0x11000f], al', []],
  ]) {
    const s = g.snippet({ asm, src, in: ['eax'], out, mem: 16 });
    for (let i = 0; i < 6; i++) s.add({ eax: rand() }, randFlags(), { mem: randomBytes(16) });
  }
  {
    const s = g.snippet({ asm: 'xlatb', in: ['eax', 'ebx'], out: ['eax'], mem: 256 });
    const table = randomBytes(256);
    for (const al of [0, 1, 0x7f, 0x80, 0xff, rand() & 0xff, rand() & 0xff]) s.add({ eax: put(8, al), ebx: DATA_ADDR }, randFlags(), { mem: table });
  }
  for (const [asm, ins, out, mem] of [
    ['xchg eax, ebx', ['eax', 'ebx'], ['eax', 'ebx'], 0], ['xchg al, bh', ['eax', 'ebx'], ['eax', 'ebx'], 0],
    ['xchg ax, cx', ['eax', 'ecx'], ['eax', 'ecx'], 0], ['xchg [esi], ecx', ['ecx', 'esi'], ['ecx'], 8],
    ['xchg edx, edx', ['edx'], ['edx'], 0], ['mov bh, al', ['eax', 'ebx'], ['ebx'], 0], ['mov cx, dx', ['ecx', 'edx'], ['ecx'], 0],
  ]) {
    const s = g.snippet({ asm, in: ins, out, mem });
    for (let i = 0; i < 8; i++) {
      const regs = {};
      for (const r of ins) regs[r] = r === 'esi' ? DATA_ADDR : rand();
      s.add(regs, randFlags(), mem ? { mem: randomBytes(mem) } : {});
    }
  }
}

// ---- Stack: PUSH POP PUSHF POPF PUSHA POPA ENTER LEAVE CALL RET -------------------------------
{
  const g = new Group('stack', 1111, 'PUSH POP (registers, immediates, memory, ESP itself), PUSHF POPF, PUSHA POPA, ENTER LEAVE, CALL RET with the stack in the data window');
  groups.push(g);
  // The snippet moves ESP into the data window and back; 0x11fffc (outside the compared
  // window) keeps the real ESP.
  const STACK = DATA_ADDR + 0x40;
  const wrap = (body) => `mov [0x11fffc], esp; mov esp, ${STACK}; ${body}; mov esp, [0x11fffc]`;
  const bodies = [
    ['push eax; push bx; push dword 0x80000001; push byte -2; push word 0x1234', []],
    ['push eax; pop ebx; push cx; pop dx', ['ebx', 'edx']],
    ['push esp; pop eax', ['eax']],
    ['push eax; pop esp; mov ebx, esp', ['ebx']],
    ['push dword [esi]; pop dword [esi+4]', []],
    ['push ecx; pop dword [esp]; pop eax', ['eax']],
    ['push ecx; push edx; pop dword [esp+4]; pop eax', ['eax']],
    ['push word [esi]; pop ax', ['eax']],
    ['pushfd; pop eax', ['eax']],
    ['pushf; pop ax', ['eax']],
    ['push eax; popfd', []],
    ['push ax; popf', []],
    ['pushad; popad', []],
    ['pushad; pop eax; pop ebx; pop ecx; pop edx; pop ebp; pop esi; pop edi; pop edx', ['eax', 'ebx', 'ecx', 'edx', 'ebp', 'esi', 'edi']],
    ['pushaw; popaw', []],
    ['enter 8, 0; mov eax, esp; mov ebx, ebp; leave', ['eax', 'ebx']],
    ['enter 4, 1; mov eax, esp; mov ebx, ebp; leave', ['eax', 'ebx']],
    ['enter 0, 3; mov eax, esp; mov ebx, ebp; leave', ['eax', 'ebx']],
    ['call .f; jmp short .e; .f: pop eax; push eax; inc ebx; ret; .e:', ['eax', 'ebx']],
    ['call .f; jmp short .e; .f: ret 8; .e: mov eax, esp', ['eax']],
    // @S is the snippet's start label: CODE_ADDR + (.f - @S) is where .f runs on both sides.
    [`mov ecx, ${CODE_ADDR} + .f - @S; call ecx; jmp short .e; .f: inc ebx; ret; .e:`, ['ecx', 'ebx']],
    [`mov dword [esi], ${CODE_ADDR} + .f - @S; call [esi]; jmp short .e; .f: inc ebx; ret; .e:`, ['ebx']],
  ];
  for (const [body, out] of bodies) {
    const touchesEbp = body.includes('enter') || body.includes('popa') || body.includes('pop ebp');
    const ins = ['eax', 'ebx', 'ecx', 'edx', 'ebp', 'esi', 'edi'];
    const outs = [...new Set([...out, ...(touchesEbp ? ['ebp'] : [])])];
    const s = g.snippet({ asm: body, src: wrap(body), in: ins, out: outs, mem: 64 });
    for (let i = 0; i < 10; i++) {
      const regs = { eax: rand(), ebx: rand(), ecx: rand(), edx: rand(), ebp: DATA_ADDR + 0x30, esi: DATA_ADDR, edi: rand() };
      const flags = randFlags() | (i & 1 ? DF : 0);
      if (body.startsWith('push eax; popfd') || body.startsWith('push ax; popf')) {
        // Values POPF may load in user mode without side effects: arithmetic flags, DF, IF
        // (which user mode cannot change and is always set).
        regs.eax = ((rand() & ALL) | 0x202 | (rand() & 0xffff0000 & ~0x3fffff)) >>> 0;
      }
      if (body === 'push eax; pop esp; mov ebx, esp') regs.eax = DATA_ADDR + 0x20 + 4 * (rand() & 3);
      s.add(regs, flags, { mem: randomBytes(64) });
    }
  }
  // The ID flag is writable by any program (the CPUID-detection idiom).
  {
    const body = 'pushfd; xor dword [esp], 0x200000; popfd; pushfd; pop eax; pushfd; xor dword [esp], 0x200000; popfd';
    const s = g.snippet({ asm: body, src: wrap(body), in: ['eax'], out: ['eax'], mem: 64 });
    for (let i = 0; i < 2; i++) s.add({ eax: 0 }, randFlags());
  }
}

// ---- LOOP LOOPE LOOPNE JECXZ and the 16-bit-address forms ------------------------------------
{
  const g = new Group('control', 1212, 'LOOP LOOPE LOOPNE JECXZ/JCXZ with 32- and 16-bit counters');
  groups.push(g);
  const loops = [
    ['.l: inc edx; loop .l', ['ecx', 'edx'], ['ecx', 'edx']],
    ['.l: inc edx; cmp edx, ebx; loopne .l', ['ebx', 'ecx', 'edx'], ['ecx', 'edx']],
    ['.l: inc edx; test edx, ebx; loope .l', ['ebx', 'ecx', 'edx'], ['ecx', 'edx']],
    ['.l: inc edx; loop .l, cx', ['ecx', 'edx'], ['ecx', 'edx']],
    ['jecxz .z; inc edx; .z:', ['ecx', 'edx'], ['edx']],
    ['jcxz .z; inc edx; .z:', ['ecx', 'edx'], ['edx']],
  ];
  for (const [asm, ins, out] of loops) {
    const s = g.snippet({ asm, in: ins, out });
    const counts = asm.includes('jecxz') || asm.includes('jcxz') ? [0, 1, 0x10000, 0xffff, 0x80000000] : [1, 2, 3, 7, 20];
    if (asm.includes(', cx')) counts.push(0x10001, 0xfff00002);
    for (const c of counts) {
      for (let i = 0; i < 3; i++) {
        const regs = { ecx: c, edx: i === 0 ? 0 : rand() & 0xff };
        if (ins.includes('ebx')) regs.ebx = [3, 5, 0x10, 0x101][rand() & 3];
        s.add(regs, randFlags());
      }
    }
  }
}

// ---- Encodings: #UD, LOCK, hint NOPs ---------------------------------------------------------
{
  const g = new Group('encodings', 1313, 'Encodings that must raise #UD (the host reports SIGILL), LOCK where it is allowed, and the hint-NOP space 0F 18-0F 1F (ENDBR32, PREFETCHh, NOP Ev)');
  groups.push(g);
  for (const [asm, src] of [
    ['ud2', 'ud2'], ['lock add ebx, eax (register destination)', 'db 0xf0, 0x01, 0xc3'], ['lock nop', 'db 0xf0, 0x90'],
    ['lock mov [esi], eax', 'db 0xf0, 0x89, 0x06'], ['lock inc eax', 'db 0xf0, 0x40'],
    ['inc/dec group FE /2 (reg form)', 'db 0xfe, 0xd0'], ['lea eax, ebx (register operand)', 'db 0x8d, 0xc3'],
    ['mov cs, ax', 'db 0x8e, 0xc8'], ['cmpxchg8b eax (register operand)', 'db 0x0f, 0xc7, 0xc8'],
    ['pop r/m with reg field 1 (8F /1)', 'db 0x8f, 0xc8'], ['mov r/m, imm with reg field 1 (C7 /1)', 'db 0xc7, 0xc8, 0, 0, 0, 0'],
    ['group 5 FF /7', 'db 0xff, 0xf8'], ['ud0 (0F FF)', 'db 0x0f, 0xff, 0xc0'], ['bt group 0F BA /0', 'db 0x0f, 0xba, 0xe0 & 0xc7, 1'],
    ['mov sreg 6 (8E /6)', 'db 0x8e, 0xf0'],
  ]) {
    const s = g.snippet({ asm, src, in: ['eax', 'ebx', 'esi'], out: [], mem: 8 });
    s.add({ eax: 0x11223344, ebx: 0x55667788, esi: DATA_ADDR }, randFlags(), { mem: randomBytes(8) });
  }
  // 0F 18-0F 1F are NOPs with a ModRM operand on P6 and later (Intel SDM Table A-3; later
  // parts gave some of them meanings that still execute as NOPs where not enabled).
  for (const [asm, src] of [
    ['endbr32 (F3 0F 1E FB)', 'db 0xf3, 0x0f, 0x1e, 0xfb'], ['nop dword [eax+eax*1+0] (0F 1F 44 00 00)', 'db 0x0f, 0x1f, 0x44, 0x00, 0x00'],
    ['nop ax (66 0F 1F C0)', 'db 0x66, 0x0f, 0x1f, 0xc0'],
    ['prefetchnta [esi] (0F 18 06)', 'db 0x0f, 0x18, 0x06'], ['prefetcht0 [esi] (0F 18 0E)', 'db 0x0f, 0x18, 0x0e'],
    ['prefetcht2 [esi] (0F 18 1E)', 'db 0x0f, 0x18, 0x1e'], ['hint nop 0F 19 /r', 'db 0x0f, 0x19, 0xc0'],
    ['hint nop 0F 1C /r', 'db 0x0f, 0x1c, 0xc0'], ['hint nop 0F 1D /r', 'db 0x0f, 0x1d, 0x46, 0x04'], ['hint nop 0F 1E /r', 'db 0x0f, 0x1e, 0xc8'],
  ]) {
    const s = g.snippet({ asm, src, in: ['eax', 'ebx', 'esi'], out: [], mem: 8 });
    s.add({ eax: 0x11223344, ebx: 0x55667788, esi: DATA_ADDR }, randFlags(), { mem: randomBytes(8) });
  }
  for (const asm of ['lock add [esi], eax', 'lock xadd [esi], ebx', 'lock cmpxchg [esi], ebx', 'lock bts dword [esi], 3', 'lock not byte [esi]', 'lock xchg [esi], eax', 'lock cmpxchg8b [esi]']) {
    const s = g.snippet({ asm, in: ['eax', 'ebx', 'ecx', 'edx', 'esi'], out: asm.includes('xadd') ? ['eax', 'ebx'] : asm.includes('8b') ? ['eax', 'edx'] : ['eax'], mem: 8 });
    for (let i = 0; i < 3; i++) s.add({ eax: rand(), ebx: rand(), ecx: rand(), edx: rand(), esi: DATA_ADDR }, randFlags(), { mem: randomBytes(8) });
  }
}

// ---------------------------------------------------------------------------------------------
// Assemble, run natively, write
// ---------------------------------------------------------------------------------------------

function assemble(work, snippets) {
  const lines = ['bits 32', `dd ${snippets.length}`];
  snippets.forEach((_, i) => lines.push(`dd S${i}, E${i}`));
  snippets.forEach((s, i) => {
    lines.push(`S${i}:`);
    for (const l of s.src.split('; ')) lines.push(`  ${l.replaceAll('@S', `S${i}`)}`);
    lines.push(`E${i}:`);
  });
  const asmFile = join(work, 'snippets.asm');
  const binFile = join(work, 'snippets.bin');
  writeFileSync(asmFile, lines.join('\n') + '\n');
  execFileSync('nasm', ['-f', 'bin', '-w-number-overflow', '-o', binFile, asmFile], { stdio: 'inherit' });
  const bin = readFileSync(binFile);
  const n = bin.readUInt32LE(0);
  if (n !== snippets.length) throw new Error('snippet table mismatch');
  snippets.forEach((s, i) => {
    const start = bin.readUInt32LE(4 + 8 * i);
    const end = bin.readUInt32LE(8 + 8 * i);
    s.code = bin.subarray(start, end);
  });
}

function buildHarness(work) {
  const exe = join(work, 'harness');
  execFileSync('gcc', ['-m32', '-O1', '-Wall', '-no-pie', '-fno-pic', '-o', exe, HARNESS_C], { stdio: 'inherit' });
  return exe;
}

/** The register file a case starts with. */
function inputRegs(s, c) {
  const regs = SENTINELS.slice();
  for (const [name, v] of Object.entries(c.regs)) regs[REGS.indexOf(name)] = v >>> 0;
  return regs;
}

function runNative(exe, all) {
  const h = (v) => (v >>> 0).toString(16);
  const lines = all.map(([s, c]) => {
    const r = inputRegs(s, c);
    const mem = s.mem ? hex(c.mem ?? new Uint8Array(s.mem)) : '-';
    if (c.mem && c.mem.length !== s.mem) throw new Error(`${s.asm}: memory of ${c.mem.length} bytes, window is ${s.mem}`);
    return [hex(s.code), h(r[0]), h(r[1]), h(r[2]), h(r[3]), h(r[5]), h(r[6]), h(r[7]), h(c.flags), mem].join(' ');
  });
  const res = spawnSync(exe, [], { input: lines.join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`native harness failed: ${res.stderr}`);
  const out = res.stdout.trimEnd().split('\n');
  if (out.length !== all.length) throw new Error(`native harness gave ${out.length} results for ${all.length} cases`);
  return out;
}

/** Encodes one case as [flagsIn, ...inputs, flagsOut, ...outputs, extra?] or [..., "#DE", extra?]. */
function encodeCase(s, c, line) {
  const inRegs = inputRegs(s, c);
  const row = [c.flags, ...s.in.map((r) => c.regs[r] >>> 0)];
  const extra = {};
  if (c.mask !== undefined && c.mask !== s.mask) extra.m = c.mask;
  if (c.undef) extra.u = c.undef;
  if (s.mem && c.mem && c.mem.some((b) => b !== 0)) extra.mi = hex(c.mem);
  const parts = line.split(' ');
  if (parts[0] === 'SIG') {
    const sig = Number(parts[1]);
    const fault = { 8: '#DE', 4: '#UD' }[sig];
    if (!fault) throw new Error(`${s.asm}: unexpected signal ${sig} for inputs ${JSON.stringify(c.regs)}`);
    row.push(fault);
    stats[fault] = (stats[fault] ?? 0) + 1;
  } else {
    const regs = parts.slice(1, 8).map((x) => parseInt(x, 16) >>> 0);
    const full = [regs[0], regs[1], regs[2], regs[3], 0, regs[4], regs[5], regs[6]];
    const flags = parseInt(parts[8], 16) & OBSERVED;
    for (let i = 0; i < 8; i++) {
      if (i === 4 || s.out.includes(REGS[i])) continue;
      if (full[i] !== inRegs[i]) throw new Error(`${s.asm}: ${REGS[i]} changed natively but is not listed as an output`);
    }
    row.push(flags, ...s.out.map((r) => full[REGS.indexOf(r)]));
    if (s.mem) extra.mo = parts[9];
  }
  if (Object.keys(extra).length) row.push(extra);
  return row;
}

const stats = {};

function writeGroup(g, hostName) {
  const file = join(OUT_DIR, `${g.name}.json`);
  const head = {
    about: `${g.about}. Generated by scripts/gen-cpu-fixtures.mjs from the host CPU; do not edit.`,
    host: hostName,
    hostMode: '32-bit user mode (gcc -m32)',
    codeAddr: CODE_ADDR,
    dataAddr: DATA_ADDR,
    sentinels: SENTINELS,
    format: 'case = [flagsIn, ...in, flagsOut, ...out, {m: defined-flag mask if not the snippet mask, u: undefined registers, mi/mo: data window in/out hex}?]; "#DE" or "#UD" replaces flagsOut and the outputs when the host raised SIGFPE or SIGILL',
  };
  const parts = [];
  parts.push('{');
  for (const [k, v] of Object.entries(head)) parts.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
  parts.push('  "snippets": [');
  g.snippets.forEach((s, i) => {
    const meta = { asm: s.asm.replaceAll('@S', 'start'), code: hex(s.code), in: s.in, out: s.out, mask: s.mask };
    if (s.mem) meta.mem = s.mem;
    const m = JSON.stringify(meta);
    parts.push(`    ${m.slice(0, -1)}, "cases": [`);
    s.rows.forEach((r, j) => parts.push(`      ${JSON.stringify(r)}${j + 1 < s.rows.length ? ',' : ''}`));
    parts.push(`    ]}${i + 1 < g.snippets.length ? ',' : ''}`);
  });
  parts.push('  ]');
  parts.push('}');
  writeFileSync(file, parts.join('\n') + '\n');
  return file;
}

function main() {
  const work = mkdtempSync(join(tmpdir(), 'pcvm-cpu-fixtures-'));
  if (process.env.KEEP) console.log(`keeping ${work}`);
  try {
    const all = groups.flatMap((g) => g.snippets);
    assemble(work, all);
    const exe = buildHarness(work);
    const flat = [];
    for (const s of all) for (const c of s.cases) flat.push([s, c]);
    const lines = runNative(exe, flat);
    let k = 0;
    for (const s of all) s.rows = s.cases.map((c) => encodeCase(s, c, lines[k++]));
    const host = cpus()[0]?.model ?? 'unknown';
    mkdirSync(OUT_DIR, { recursive: true });
    let total = 0;
    let bytes = 0;
    console.log(`host: ${host}, 32-bit user mode`);
    for (const g of groups) {
      const file = writeGroup(g, host);
      const n = g.snippets.reduce((a, s) => a + s.cases.length, 0);
      const size = readFileSync(file).length;
      total += n;
      bytes += size;
      console.log(`${g.name.padEnd(12)} ${String(g.snippets.length).padStart(4)} snippets ${String(n).padStart(6)} cases ${(size / 1024).toFixed(0).padStart(5)} KiB`);
    }
    console.log(`total ${total} cases (${stats['#DE'] ?? 0} #DE, ${stats['#UD'] ?? 0} #UD), ${(bytes / 1024).toFixed(0)} KiB`);
  } finally {
    if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  }
  if (process.argv.includes('--report')) {
    spawnSync('npx', ['vitest', 'run', 'test/cpu'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PCVM_CPU_UNDEFINED_REPORT: '1' } });
  }
}

main();
