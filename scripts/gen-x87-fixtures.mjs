#!/usr/bin/env node
/**
 * Generates the x87 conformance fixtures (test/cpu/fixtures/x87-*.json) from the HOST CPU's
 * own x87 unit, with the same native runner as the integer fixtures (test/cpu/native/harness.c,
 * built with gcc -m32; see scripts/gen-cpu-fixtures.mjs).
 *
 * Every case is one snippet, assembled with nasm and run natively with ESI pointing at the data
 * window (DATA_ADDR):
 *
 *   fninit; fldz ×8; fninit            every data register +0.0 and empty (as after our reset)
 *   fldcw [esi]                        the control word of the case
 *   fld tword [esi+0x30/0x20/0x10]     up to three operands: ST(2), ST(1), ST(0)
 *   <the instruction under test>       its memory operand, if any, at [esi+0x40]
 *   fnsave [esi+0x100]                 the whole x87 state (no-wait: a pending exception stays pending)
 *
 * The data window (0x170 bytes) after the run — the memory operand area and the FNSAVE image
 * with FCW, FSW, the tag word, FIP, FOP, FDP and all eight registers — plus EAX and EFLAGS are
 * the expected values. The emulator never takes part in making them.
 *
 * Each case says how the test compares it (field "cmp"):
 *   x  exactly (all but the FCS/FDS selectors, which differ between Linux user mode and the
 *      test's flat GDT);
 *   d  registers after rounding the host's 64-bit significand to 53 bits (within 1 unit in the
 *      last place), PE and C1 ignored: the emulator computes with doubles, so with FCW.PC = 64
 *      (extended) its results carry 53 bits. With PC = 53 (FCW 0x027F) the host rounds to
 *      53 bits too and the same operations are compared exactly (cmp x);
 *   t  registers within a relative 2^-50 (transcendental functions), PE and C1 ignored.
 *
 * Requirements: x86 host, gcc with 32-bit support, nasm. Usage: node scripts/gen-x87-fixtures.mjs
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'test/cpu/fixtures');
const HARNESS_C = join(ROOT, 'test/cpu/native/harness.c');
const DATA_ADDR = 0x00110000;
const WINDOW = 0x170;
const SAVE = 0x100;

// ---------------------------------------------------------------------------------------------
// Operand values (80-bit, as [se, significand BigInt])
// ---------------------------------------------------------------------------------------------

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** A double as an exact extended value. */
function d(x) {
  f64[0] = x;
  const bits = u64[0];
  const sign = Number(bits >> 63n);
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  if (e === 0x7ff) return [(sign << 15) | 0x7fff, (1n << 63n) | (frac << 11n)];
  if (e === 0) {
    if (frac === 0n) return [sign << 15, 0n];
    // value = frac · 2^-1074 = s · 2^(E-63) with s normalized.
    let E = -1011;
    let s = frac;
    while (s < 1n << 63n) {
      s <<= 1n;
      E--;
    }
    return [(sign << 15) | (E + 16383), s];
  }
  return [(sign << 15) | (e - 1023 + 16383), (1n << 63n) | (frac << 11n)];
}

const X = (se, sig) => [se, BigInt(sig)];
const V = {
  pz: d(0), nz: d(-0), one: d(1), mone: d(-1), half: d(0.5), onehalf: d(1.5), two: d(2), three: d(3), ten: d(10),
  tenth: d(0.1), third: d(1 / 3), m2_5: d(-2.5), p2_5: d(2.5), p3_5: d(3.5), m3_5: d(-3.5), m0_5: d(-0.5),
  big: d(1e300), small: d(1e-300), dmax: d(1.7976931348623157e308), ddenorm: d(5e-324), ddenorm2: d(2.2250738585072e-308),
  pi: d(Math.PI), e: d(Math.E), k1: d(123456.789), km: d(-98765.4321), two63: d(2 ** 63), two64: d(2 ** 64),
  mtwo63: d(-(2 ** 63)), two31: d(2 ** 31), mtwo31: d(-(2 ** 31)), two15: d(32768), mtwo15: d(-32768), m32767_5: d(-32767.5),
  pinf: X(0x7fff, 0x8000000000000000n), ninf: X(0xffff, 0x8000000000000000n),
  qnan: X(0x7fff, 0xc000000000000123n), nqnan: X(0xffff, 0xc000000000000456n), snan: X(0x7fff, 0x8000000000000789n),
  indef: X(0xffff, 0xc000000000000000n),
  xden: X(0x0000, 0x0000000000000001n), xden2: X(0x8000, 0x4000000000000000n), pseudoden: X(0x0000, 0x8000000000000000n),
  unnormal: X(0x3fff, 0x4000000000000000n), pseudoinf: X(0x7fff, 0n), pseudonan: X(0x7fff, 0x4000000000000001n),
  xmax: X(0x7ffe, 0xffffffffffffffffn), xmax53: X(0x7ffe, 0xfffffffffffff800n), xmin: X(0x0001, 0x8000000000000000n), onePlus: X(0x3fff, 0x8000000000000001n),
  xbig: X(0x7e7f, 0xa000000000000000n), xtiny: X(0x0180, 0xc000000000000000n), sig64: X(0x403e, 0xffffffffffffffffn),
  nsig64: X(0xc03d, 0xfffffffffffffffdn), m1p: X(0xbffe, 0xfffffffffffffffen),
};
const ALL = Object.keys(V);
/** Values whose significands fit 53 bits and exponents the double range (exact in the emulator). */
const DBL = ['pz', 'nz', 'one', 'mone', 'onehalf', 'three', 'tenth', 'third', 'm2_5', 'big', 'small', 'dmax',
  'ddenorm', 'pi', 'km', 'pinf', 'ninf', 'qnan', 'nqnan', 'snan', 'xden', 'unnormal', 'xmax53', 'xtiny'];

function tword(v) {
  const [se, sig] = v;
  const b = Buffer.alloc(10);
  b.writeBigUInt64LE(sig, 0);
  b.writeUInt16LE(se, 8);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

/** FCW values: RC in bits 10-11, PC in 8-9. */
const FCW = 0x037f;
const RCS = [0, 1, 2, 3].map((r) => FCW | (r << 10));
const PC53 = [0, 1, 2, 3].map((r) => 0x027f | (r << 10));

let seed = 7;
function rand() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}

class Group {
  constructor(name, about) {
    this.name = name;
    this.about = about;
    this.cases = [];
  }

  /**
   * Adds a case: `asm` the instruction(s) under test, `st` operands (ST(0) first), `fcw`, `mem`
   * bytes at +0x40, `cmp` mode, `eflags` in, `eax` in, `pre` extra instructions before the loads.
   */
  add({ asm, st = [], fcw = FCW, mem, cmp = 'x', eflags = 0x202, eax = 0x12345678, pre = '' }) {
    const window = Buffer.alloc(WINDOW);
    window.writeUInt16LE(fcw, 0);
    st.forEach((v, i) => tword(typeof v === 'string' ? V[v] : v).copy(window, 0x10 + 0x10 * i));
    if (mem) Buffer.from(mem).copy(window, 0x40);
    const loads = st.map((_, i) => `fld tword [esi+0x${(0x10 + 0x10 * i).toString(16)}]`).reverse();
    const lines = ['fninit', ...Array(8).fill('fldz'), 'fninit', 'fldcw [esi]', ...(pre ? pre.split('; ') : []), ...loads, ...asm.split('; '), `fnsave [esi+0x${SAVE.toString(16)}]`];
    const stHex = st.map((v) => tword(typeof v === 'string' ? V[v] : v).toString('hex'));
    this.cases.push({ asm, stHex, fcw, src: lines, window, cmp, eflags, eax });
  }
}

const groups = [];
const g = (name, about) => {
  const x = new Group(name, about);
  groups.push(x);
  return x;
};

// ---- Loads and stores ----------------------------------------------------------------------
{
  const G = g('x87-loadstore', 'FLD/FST/FSTP m32 m64 m80 and ST(i), FILD/FIST/FISTP m16 m32 m64, FBLD/FBSTP, FXCH, FCHS, FABS, FLD constants, every RC');
  const f32s = [0, 0x80000000, 0x3f800000, 0xbfc00000, 0x00000001, 0x807fffff, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0x7f800001, 0xffc00000, 0x00800000, 0x3eaaaaab];
  for (const b of f32s) {
    const m = Buffer.alloc(4);
    m.writeUInt32LE(b);
    G.add({ asm: 'fld dword [esi+0x40]', mem: m });
    G.add({ asm: 'fld dword [esi+0x40]', mem: m, fcw: 0x037c }); // IE and DE unmasked
  }
  const f64s = [0n, 0x8000000000000000n, 0x3ff0000000000000n, 0x0000000000000001n, 0x800fffffffffffffn, 0x7fefffffffffffffn, 0x7ff0000000000000n,
    0xfff8000000000000n, 0x7ff0000000000001n, 0x7ff8000000000abcn, 0x3fb999999999999an, 0x0010000000000000n];
  for (const b of f64s) {
    const m = Buffer.alloc(8);
    m.writeBigUInt64LE(b);
    G.add({ asm: 'fld qword [esi+0x40]', mem: m });
    G.add({ asm: 'fld qword [esi+0x40]', mem: m, fcw: 0x037c });
  }
  for (const v of ALL) {
    G.add({ asm: 'fld tword [esi+0x40]', mem: tword(V[v]) });
    G.add({ asm: 'fstp tword [esi+0x40]', st: [v] });
    for (const fcw of RCS) {
      G.add({ asm: 'fst dword [esi+0x40]', st: [v], fcw });
      G.add({ asm: 'fstp qword [esi+0x40]', st: [v], fcw });
      G.add({ asm: 'fistp word [esi+0x40]', st: [v], fcw });
      G.add({ asm: 'fist dword [esi+0x40]', st: [v], fcw });
      // (The AMD host leaves FIP, FOP and FDP zero after FISTP m64 of an unnormal; not compared.)
      if (v !== 'unnormal') G.add({ asm: 'fistp qword [esi+0x40]', st: [v], fcw });
      G.add({ asm: 'fbstp [esi+0x40]', st: [v], fcw });
      G.add({ asm: 'frndint', st: [v], fcw });
    }
    G.add({ asm: 'fchs', st: [v] });
    G.add({ asm: 'fabs', st: [v] });
    G.add({ asm: 'fxam', st: [v] });
    G.add({ asm: 'ftst', st: [v] });
  }
  // Unmasked exceptions on stores: nothing stored, ST(0) kept.
  for (const v of ['snan', 'big', 'small', 'xbig', 'xtiny', 'pinf', 'two63', 'tenth', 'unnormal', 'xden']) {
    // (Not all exceptions unmasked at once: the host then sets PE without ES for a denormal FIST.)
    for (const fcw of [0x037e, 0x0377, 0x036f, 0x035f]) {
      G.add({ asm: 'fstp dword [esi+0x40]', st: [v], fcw });
      G.add({ asm: 'fistp dword [esi+0x40]', st: [v], fcw });
    }
  }
  // Rounding to integer near the boundaries, every RC.
  const ints = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 32767.5, -32768.5, 32767.4, -32768.4, 2147483647.5, -2147483648.5, 2147483647.4, 1e18, -1e18,
    999999999999999999, 9223372036854775807, -9223372036854775808, 9.3e18, 4503599627370495.5, 0.49999999999999994, 1e-5, -1e-5];
  for (const x of ints) {
    for (const fcw of RCS) {
      G.add({ asm: 'fistp word [esi+0x40]', st: [d(x)], fcw });
      G.add({ asm: 'fistp dword [esi+0x40]', st: [d(x)], fcw });
      G.add({ asm: 'fistp qword [esi+0x40]', st: [d(x)], fcw });
      G.add({ asm: 'fbstp [esi+0x40]', st: [d(x)], fcw });
      G.add({ asm: 'frndint', st: [d(x)], fcw });
    }
  }
  for (const sig of [0x8000000000000000n, 0xfffffffffffffffen, 0xffffffffffffffffn, 0xde0b6b3a763fffffn]) {
    for (const se of [0x403e, 0xc03e, 0x403d, 0x403a]) for (const fcw of RCS) G.add({ asm: 'fistp qword [esi+0x40]', st: [[se, sig]], fcw });
  }
  // Integer loads.
  for (const w of [0, 1, 0x7fff, 0x8000, 0xffff, 0x1234]) {
    const m = Buffer.alloc(2);
    m.writeUInt16LE(w);
    G.add({ asm: 'fild word [esi+0x40]', mem: m });
  }
  for (const w of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678]) {
    const m = Buffer.alloc(4);
    m.writeUInt32LE(w);
    G.add({ asm: 'fild dword [esi+0x40]', mem: m });
  }
  for (const w of [0n, 1n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x0020000000000001n, 0x123456789abcdef0n]) {
    const m = Buffer.alloc(8);
    m.writeBigUInt64LE(w);
    G.add({ asm: 'fild qword [esi+0x40]', mem: m });
    G.add({ asm: 'fild qword [esi+0x40]; fistp qword [esi+0x48]', mem: m });
  }
  for (const bcd of ['000000000000000000', '000000000000000001', '999999999999999999', '123456789012345678']) {
    for (const sign of [0, 0x80]) {
      const m = Buffer.alloc(10);
      Buffer.from(bcd, 'hex').reverse().copy(m, 0);
      m[9] = sign;
      G.add({ asm: 'fbld [esi+0x40]', mem: m });
      G.add({ asm: 'fbld [esi+0x40]; fbstp [esi+0x50]', mem: m });
    }
  }
  // Register moves and constants.
  for (const asm of ['fld st0', 'fld st2', 'fld st5', 'fxch st1', 'fxch st2', 'fxch st4', 'fst st2', 'fstp st1', 'fstp st0', 'fst st5', 'ffree st1', 'ffreep st0', 'fincstp', 'fdecstp', 'fnop', 'fdecstp; fdecstp; fld st1']) {
    G.add({ asm, st: ['pi', 'snan', 'mone'] });
    G.add({ asm, st: ['pi', 'snan', 'mone'], fcw: 0x037e });
    G.add({ asm, st: [] });
  }
  for (const asm of ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz']) {
    for (const fcw of RCS) G.add({ asm, fcw });
  }
  // Stack overflow and underflow, masked and unmasked.
  const full = 'fld1; fld1; fld1; fld1; fld1; fld1; fld1; fld1';
  for (const asm of ['fld st0', 'fld1', 'fld tword [esi+0x10]', 'fild dword [esi+0x10]', 'fld dword [esi+0x10]', 'fxtract', 'fptan', 'fsincos']) {
    G.add({ asm, pre: full });
    G.add({ asm, pre: full, fcw: 0x037e });
  }
  for (const asm of ['fadd st0, st1', 'faddp st1, st0', 'fcom st1', 'fcompp', 'fucomi st0, st1', 'fst dword [esi+0x40]', 'fistp dword [esi+0x40]', 'fchs', 'fsqrt', 'fxch st1', 'fstp st3', 'fsin', 'fyl2x', 'fprem', 'fscale', 'fxtract', 'fptan', 'fsincos', 'fcmovb st0, st1', 'fbstp [esi+0x40]', 'fstp tword [esi+0x40]', 'fiadd word [esi+0x40]']) {
    const cmp = /fsqrt/.test(asm) ? 'd' : /fsin|fptan|fyl2x/.test(asm) ? 't' : 'x';
    G.add({ asm, st: ['two'], cmp });
    G.add({ asm, st: ['two'], fcw: 0x037e, cmp });
  }
}

// ---- Arithmetic ----------------------------------------------------------------------------
{
  const G = g('x87-arith', 'FADD FSUB FSUBR FMUL FDIV FDIVR in every form, FSQRT, FSCALE, FXTRACT, FPREM, FPREM1: edge operands, every RC, PC 53 (exact) and 64 (compared at 53 bits)');
  const ops = ['fadd', 'fsub', 'fsubr', 'fmul', 'fdiv', 'fdivr'];
  const pairs = [];
  for (const a of DBL) for (const b of DBL) pairs.push([a, b]);
  // Every pair under PC=53/RC=nearest for each op; directed RCs on a sample.
  for (const op of ops) {
    // All pairs for FADD, FMUL, FDIV; the reversed and subtracting forms on a sample.
    const full = op === 'fadd' || op === 'fmul' || op === 'fdiv';
    for (const [a, b] of pairs) {
      if (full || rand() % 3 === 0) G.add({ asm: `${op} st0, st1`, st: [a, b], fcw: PC53[0] });
    }
    for (let k = 0; k < 60; k++) {
      const [a, b] = pairs[rand() % pairs.length];
      const fcw = PC53[rand() & 3];
      G.add({ asm: `${op} st0, st1`, st: [a, b], fcw });
    }
    // Random doubles, every RC, PC 53 (exact) and PC 64 (rounded).
    for (let k = 0; k < 32; k++) {
      const a = d(randomDouble());
      const b = d(randomDouble());
      G.add({ asm: `${op} st0, st1`, st: [a, b], fcw: PC53[k & 3] });
      G.add({ asm: `${op} st0, st1`, st: [a, b], fcw: RCS[k & 3], cmp: 'd' });
    }
    // Forms: memory m32/m64/m16int/m32int, ST(i),ST0, P forms.
    const m32 = Buffer.alloc(4); m32.writeFloatLE(3.25);
    const m64 = Buffer.alloc(8); m64.writeDoubleLE(-0.1);
    const m16 = Buffer.alloc(2); m16.writeInt16LE(-7);
    const mi32 = Buffer.alloc(4); mi32.writeInt32LE(100000);
    const mden = Buffer.alloc(8); mden.writeBigUInt64LE(1n);
    for (const [form, mem] of [[`${op} dword [esi+0x40]`, m32], [`${op} qword [esi+0x40]`, m64], [`${op} qword [esi+0x40]`, mden], [`fi${op.slice(1)} word [esi+0x40]`, m16], [`fi${op.slice(1)} dword [esi+0x40]`, mi32]]) {
      for (const a of ['onehalf', 'pi', 'pz', 'qnan', 'pinf', 'xden', 'big']) {
        G.add({ asm: form, st: [a], mem, fcw: PC53[0] });
        G.add({ asm: form, st: [a], mem, fcw: 0x0260 }); // all unmasked
      }
    }
    for (const form of [`${op} st2, st0`, `${op}p st2, st0`, `${op} st0, st2`, `${op}p st1, st0`]) {
      G.add({ asm: form, st: ['pi', 'snan', 'm2_5'], fcw: PC53[0] });
      G.add({ asm: form, st: ['three', 'half', 'tenth'], fcw: PC53[1] });
      G.add({ asm: form, st: ['pz', 'one', 'pz'], fcw: 0x0260 });
    }
  }
  // Unmasked exceptions leave the destination alone (IE, DE, ZE) or bias the result (OE, UE).
  for (const [a, b, op] of [['pinf', 'pinf', 'fsub'], ['one', 'pz', 'fdiv'], ['xden', 'one', 'fmul'], ['xmax53', 'xmax53', 'fmul'], ['xmin', 'xmax53', 'fdiv'], ['snan', 'one', 'fadd'], ['third', 'three', 'fmul'], ['tenth', 'three', 'fmul']]) {
    for (const fcw of [0x027e, 0x027b, 0x027d, 0x0277, 0x026f, 0x025f, 0x0240]) G.add({ asm: `${op} st0, st1`, st: [a, b], fcw });
  }
  // Results in the extended-only range and denormal results.
  for (const [a, b] of [['xtiny', 'xtiny'], ['xbig', 'xbig'], ['xmin', 'half'], ['xmin', 'third'], ['xden', 'three'], ['xden', 'xden'], ['small', 'small'], ['big', 'big'], ['xmax53', 'two']]) {
    for (const op of ['fmul', 'fdiv', 'fadd', 'fsub']) for (const fcw of PC53) G.add({ asm: `${op} st0, st1`, st: [a, b], fcw });
  }
  for (const v of DBL) {
    for (const fcw of PC53) G.add({ asm: 'fsqrt', st: [v], fcw });
    G.add({ asm: 'fsqrt', st: [v], fcw: FCW, cmp: 'd' });
  }
  for (let k = 0; k < 40; k++) {
    const a = d(Math.abs(randomDouble()));
    G.add({ asm: 'fsqrt', st: [a], fcw: PC53[k & 3] });
  }
  // Exact operations: 64-bit significands, every value.
  const scaleBy = ['pz', 'nz', 'one', 'mone', 'onehalf', 'm2_5', 'ten', 'pinf', 'ninf', 'qnan', 'snan', d(16000), d(-16000), d(-16440), d(1e10), d(-1e10), d(63.9), 'xden', 'unnormal'];
  for (const a of ['pz', 'nz', 'one', 'pi', 'sig64', 'xden', 'xmax', 'xmin', 'pinf', 'ninf', 'qnan', 'snan', 'pseudoden', 'm1p']) {
    for (const b of scaleBy) G.add({ asm: 'fscale', st: [a, b] });
    G.add({ asm: 'fxtract', st: [a] });
    G.add({ asm: 'fxtract', st: [a], fcw: 0x0370 });
  }
  for (const fcw of RCS) for (const a of ['xmax', 'xmin', 'sig64', 'onePlus']) for (const b of [d(5), d(-5), d(20000), d(-20000)]) G.add({ asm: 'fscale', st: [a, b], fcw });
  const remA = ['pz', 'nz', 'one', 'mone', 'pi', 'k1', 'km', 'big', 'small', 'sig64', 'nsig64', 'xbig', 'xtiny', 'xden', 'pinf', 'qnan', 'snan', 'm2_5', 'p3_5', 'two63', d(7), d(-7), d(5.5), d(1e30), d(6.5), d(-6.5)];
  const remB = ['one', 'mone', 'pi', 'three', 'tenth', 'half', 'pz', 'pinf', 'qnan', 'xden', 'sig64', 'm2_5', 'two', d(2.2), 'k1'];
  for (const a of remA) {
    for (const b of remB) {
      G.add({ asm: 'fprem', st: [a, b] });
      G.add({ asm: 'fprem1', st: [a, b] });
    }
  }
}

// ---- Compares and classification ---------------------------------------------------------
{
  const G = g('x87-compare', 'FCOM FCOMP FCOMPP FUCOM FUCOMP FUCOMPP FICOM FICOMP FCOMI FCOMIP FUCOMI FUCOMIP FTST FXAM FCMOVcc');
  const vals = ['pz', 'nz', 'one', 'mone', 'onePlus', 'pinf', 'ninf', 'qnan', 'snan', 'xden', 'pseudoden', 'unnormal', 'xmax', 'sig64'];
  for (const a of vals) {
    for (const b of vals) {
      for (const asm of ['fcom st1', 'fucomp st1', 'fcomi st0, st1', 'fucomip st0, st1']) {
        G.add({ asm, st: [a, b], eflags: 0x8d7 });
      }
    }
  }
  for (const asm of ['fcom st1', 'fcompp', 'fucom st1', 'fucompp', 'fcomi st0, st1', 'fucomi st0, st1', 'fcomip st0, st1', 'fucomip st0, st1', 'fcomp st2', 'ftst']) {
    for (const [a, b] of [['qnan', 'one'], ['snan', 'one'], ['xden', 'one'], ['unnormal', 'one']]) {
      G.add({ asm, st: [a, b], fcw: 0x037e, eflags: 0x202 });
      G.add({ asm, st: [a, b], fcw: 0x037d, eflags: 0x202 });
    }
    G.add({ asm, st: ['one'], eflags: 0x8d7 });
    G.add({ asm, st: ['one'], fcw: 0x037e, eflags: 0x8d7 });
  }
  for (const [form, mem] of [['fcom dword [esi+0x40]', [0, 0, 0x80, 0x3f]], ['fcomp qword [esi+0x40]', [1, 0, 0, 0, 0, 0, 0, 0]], ['ficom word [esi+0x40]', [1, 0]], ['ficomp dword [esi+0x40]', [0xff, 0xff, 0xff, 0xff]], ['fcom dword [esi+0x40]', [1, 0, 0x80, 0x7f]]]) {
    for (const a of ['one', 'mone', 'pz', 'qnan', 'xden', 'ddenorm']) {
      G.add({ asm: form, st: [a], mem: Buffer.from(mem) });
      G.add({ asm: form, st: [a], mem: Buffer.from(mem), fcw: 0x037d });
    }
  }
  for (const v of ALL) G.add({ asm: 'fxam', st: [v] });
  G.add({ asm: 'fxam' });
  G.add({ asm: 'fld1; fchs; ffree st0; fxam' });
  // FCMOVcc against every combination of ZF, PF, CF.
  const cmovs = ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'];
  for (const op of cmovs) {
    for (const fl of [0x202, 0x203, 0x206, 0x242, 0x247, 0x2c3]) G.add({ asm: `${op} st0, st2`, st: ['one', 'two', 'pi'], eflags: fl });
  }
}

// ---- Transcendental functions ---------------------------------------------------------------
{
  const G = g('x87-transcendental', 'F2XM1 FYL2X FYL2XP1 FPTAN FPATAN FSIN FCOS FSINCOS: values within a relative 2^-50 of the host');
  const args = [0, -0, 0.5, -0.5, 1, -1, 0.25, 1e-3, -0.7, 0.999, 1e-20];
  for (const x of args) G.add({ asm: 'f2xm1', st: [d(x)], cmp: 't' });
  for (const x of [1, 2, 8, 10, 0.5, 1e-300, 1e300, 3.7, 1.0000001]) for (const y of [1, -2, 0.5, 3]) G.add({ asm: 'fyl2x', st: [d(x), d(y)], cmp: 't' });
  for (const [x, y] of [['pz', 'one'], ['nz', 'one'], ['mone', 'one'], ['pinf', 'one'], ['one', 'pinf'], ['pz', 'pz'], ['qnan', 'one'], ['xbig', 'one'], ['xtiny', 'two']]) G.add({ asm: 'fyl2x', st: [x, y], cmp: 't' });
  for (const x of [0, 1e-10, -1e-10, 0.25, -0.25, 0.29, -0.29, 1e-30]) for (const y of [1, -3]) G.add({ asm: 'fyl2xp1', st: [d(x), d(y)], cmp: 't' });
  for (const x of [0.5, 1, 1.5, -1, 3, 10, 100, -1000.5, 1e-10, 0.785398, 2 ** 40]) {
    G.add({ asm: 'fsin', st: [d(x)], cmp: 't' });
    G.add({ asm: 'fcos', st: [d(x)], cmp: 't' });
    G.add({ asm: 'fsincos', st: [d(x)], cmp: 't' });
    G.add({ asm: 'fptan', st: [d(x)], cmp: 't' });
  }
  for (const v of ['pz', 'nz', 'pinf', 'qnan', 'snan', 'two63', 'mtwo63', d(2 ** 62)]) {
    for (const asm of ['fsin', 'fcos', 'fsincos', 'fptan']) G.add({ asm, st: [v], cmp: 't' });
  }
  for (const [y, x] of [[1, 1], [1, -1], [-1, 1], [-1, -1], [0, 1], [0, -1], [-0, -1], [1, 0], [3, 4], [1e-300, 1e300], [1e300, 1e-300]]) G.add({ asm: 'fpatan', st: [d(x), d(y)], cmp: 't' });
  for (const [y, x] of [['pinf', 'one'], ['pinf', 'pinf'], ['ninf', 'ninf'], ['one', 'ninf'], ['nz', 'nz'], ['pz', 'nz'], ['qnan', 'one'], ['xtiny', 'one']]) G.add({ asm: 'fpatan', st: [x, y], cmp: 't' });
}

// ---- Control, status, environment ----------------------------------------------------------
{
  const G = g('x87-control', 'FNSTSW AX/m16, FNSTCW/FLDCW, FNSTENV/FLDENV (16/32-bit), FNSAVE/FRSTOR, FNCLEX, FNINIT, FFREE, pending exceptions, the tag word');
  for (const cw of [0x0000, 0xffff, 0x037f, 0x0c00, 0x1f3f, 0x0240]) {
    G.add({ asm: 'fldcw [esi+0x40]; fnstcw [esi+0x42]', mem: [cw & 0xff, cw >> 8] });
  }
  G.add({ asm: 'fnstsw ax', st: ['one', 'two'], eax: 0xaaaaaaaa });
  G.add({ asm: 'fdiv st0, st2; fnstsw ax', st: ['one', 'two', 'pz'], eax: 0xaaaaaaaa });
  G.add({ asm: 'fnstsw [esi+0x40]', st: ['one'] });
  G.add({ asm: 'fdiv st0, st1; fldcw [esi+0x40]; fnstsw ax', st: ['one', 'pz'], mem: [0x7b, 0x03] });
  G.add({ asm: 'fdiv st0, st1; fnclex; fnstsw ax', st: ['one', 'pz'], fcw: 0x037b });
  G.add({ asm: 'fdiv st0, st1; fninit; fnstsw ax', st: ['one', 'pz'], fcw: 0x037b });
  G.add({ asm: 'fdiv st0, st1', st: ['one', 'pz'], fcw: 0x037b });
  for (const [asm, st] of [['fnstenv [esi+0x40]', ['one', 'pz', 'snan']], ['o16 fnstenv [esi+0x40]', ['one', 'xden']], ['fadd st0, st1; fnstenv [esi+0x40]', ['pinf', 'ninf']], ['fld qword [esi+0x10]; fnstenv [esi+0x40]', []]]) {
    G.add({ asm, st });
  }
  G.add({ asm: 'fnsave [esi+0x40]; frstor [esi+0x40]', st: ['one', 'xden', 'snan'] });
  G.add({ asm: 'fsub st0, st1; fnsave [esi+0x40]; fld1; frstor [esi+0x40]', st: ['pinf', 'pinf'], fcw: 0x037e });
  G.add({ asm: 'o16 fnsave [esi+0x40]; o16 frstor [esi+0x40]', st: ['pi', 'unnormal'] });
  G.add({ asm: 'fincstp; fnsave [esi+0x40]; frstor [esi+0x40]', st: ['pi', 'two', 'three'] });
  // FLDENV and FRSTOR images written by hand: tags recomputed, ES from flags and masks.
  const env = (fcw, fsw, ftw) => {
    const b = Buffer.alloc(28, 0);
    b.writeUInt32LE((0xffff0000 | fcw) >>> 0, 0);
    b.writeUInt32LE((0xffff0000 | fsw) >>> 0, 4);
    b.writeUInt32LE((0xffff0000 | ftw) >>> 0, 8);
    b.writeUInt32LE(0x12345678, 12);
    b.writeUInt32LE(0x05670023, 16);
    b.writeUInt32LE(0x9abcdef0, 20);
    b.writeUInt32LE(0xffff002b, 24);
    return b;
  };
  for (const [fcw, fsw, ftw] of [[0x037b, 0x0004, 0xffff], [0x037f, 0x8084, 0xffff], [0x037f, 0x0080, 0x0000], [0x037f, 0x3800, 0xaaaa], [0x0f7f, 0x4700, 0x0fff], [0x037f, 0x0041, 0xfff0]]) {
    G.add({ asm: 'fldenv [esi+0x40]', st: ['one', 'pz', 'xden'], mem: env(fcw, fsw, ftw) });
  }
  G.add({ asm: 'fld1; fnstenv [esi+0x40]; fnstcw [esi+0x60]' });
}

/** Hex of `b` without its trailing zero bytes. */
function trimHex(b) {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n).toString('hex');
}

function randomDouble() {
  // Random sign, exponent within ±60, random 52-bit fraction.
  const e = (rand() % 121) - 60;
  const frac = BigInt(rand() & 0xfffff) << 32n | BigInt(rand());
  const bits = (BigInt(rand() & 1) << 63n) | (BigInt(1023 + e) << 52n) | frac;
  u64[0] = bits;
  return f64[0];
}

// ---------------------------------------------------------------------------------------------
// Assemble, run natively, write
// ---------------------------------------------------------------------------------------------

function assemble(work, cases) {
  const lines = ['bits 32', `dd ${cases.length}`];
  cases.forEach((_, i) => lines.push(`dd S${i}, E${i}`));
  cases.forEach((c, i) => {
    lines.push(`S${i}:`);
    for (const l of c.src) lines.push(`  ${l}`);
    lines.push(`E${i}:`);
  });
  const asmFile = join(work, 'x87.asm');
  const binFile = join(work, 'x87.bin');
  writeFileSync(asmFile, lines.join('\n') + '\n');
  execFileSync('nasm', ['-f', 'bin', '-o', binFile, asmFile], { stdio: 'inherit' });
  const bin = readFileSync(binFile);
  cases.forEach((c, i) => {
    const start = bin.readUInt32LE(4 + 8 * i);
    const end = bin.readUInt32LE(8 + 8 * i);
    c.code = bin.subarray(start, end);
  });
}

function main() {
  const work = mkdtempSync(join(tmpdir(), 'pcvm-x87-fixtures-'));
  try {
    const all = groups.flatMap((x) => x.cases);
    assemble(work, all);
    const exe = join(work, 'harness');
    execFileSync('gcc', ['-m32', '-O1', '-Wall', '-no-pie', '-fno-pic', '-o', exe, HARNESS_C], { stdio: 'inherit' });
    const h = (v) => (v >>> 0).toString(16);
    const input = all.map((c) => [c.code.toString('hex'), h(c.eax), h(0xc0c1c2c3), h(0xd0d1d2d3), h(0xb0b1b2b3), h(0xe0e1e2e3), h(DATA_ADDR), h(0xd1d2d3d4), h(c.eflags), c.window.toString('hex')].join(' '));
    const res = spawnSync(exe, [], { input: input.join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`native harness failed: ${res.stderr}`);
    const out = res.stdout.trimEnd().split('\n');
    if (out.length !== all.length) throw new Error(`harness gave ${out.length} results for ${all.length} cases`);
    all.forEach((c, i) => {
      const parts = out[i].split(' ');
      if (parts[0] !== 'OK') throw new Error(`${c.asm}: host raised signal ${parts[1]}`);
      c.result = { eax: parseInt(parts[1], 16) >>> 0, eflags: parseInt(parts[8], 16) & 0x8d5, window: parts[9] };
    });
    const host = cpus()[0]?.model ?? 'unknown';
    mkdirSync(OUT_DIR, { recursive: true });
    for (const grp of groups) {
      // Cases with the same code share one snippet record.
      const snippets = new Map();
      for (const c of grp.cases) {
        const key = c.code.toString('hex');
        if (!snippets.has(key)) snippets.set(key, { asm: c.asm, code: key, cases: [] });
        const win = Buffer.from(c.result.window, 'hex');
        const row = { fcw: c.fcw, st: c.stHex, cmp: c.cmp };
        const memIn = c.window.subarray(0x40, SAVE);
        if (memIn.some((b) => b !== 0)) row.mem = trimHex(memIn);
        if (c.eflags !== 0x202) row.eflags = c.eflags;
        if (c.eax !== 0x12345678) row.eax = c.eax;
        row.save = win.subarray(SAVE, SAVE + 108).toString('hex');
        const memOut = win.subarray(0x40, SAVE);
        if (!memOut.equals(memIn)) row.memOut = trimHex(memOut);
        if (c.result.eax !== c.eax) row.eaxOut = c.result.eax;
        row.eflagsOut = c.result.eflags;
        snippets.get(key).cases.push(row);
      }
      const rows = [...snippets.values()].map((sn) => JSON.stringify(sn));
      const text = `{\n  "about": ${JSON.stringify(grp.about + '. Generated by scripts/gen-x87-fixtures.mjs from the host CPU; do not edit.')},\n  "host": ${JSON.stringify(host)},\n  "hostMode": "32-bit user mode (gcc -m32)",\n  "dataAddr": ${DATA_ADDR},\n  "format": "snippet = {asm, code, cases}; case = {fcw, st: ST(0).. as 10-byte hex, cmp, mem?: bytes at +0x40, eflags?/eax? inputs, save: FNSAVE image after the run, memOut?: bytes at +0x40 after, eaxOut?, eflagsOut}",\n  "snippets": [\n    ${rows.join(',\n    ')}\n  ]\n}\n`;
      writeFileSync(join(OUT_DIR, `${grp.name}.json`), text);
      console.log(`${grp.name.padEnd(20)} ${String(grp.cases.length).padStart(6)} cases ${String(snippets.size).padStart(5)} snippets ${(text.length / 1024).toFixed(0).padStart(6)} KiB`);
    }
  } finally {
    if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  }
}

main();
