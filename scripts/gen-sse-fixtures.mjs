#!/usr/bin/env node
/**
 * Generates the MMX/SSE/SSE2 conformance fixtures (test/cpu/fixtures/sse-*.json, mmx.json)
 * from the HOST CPU, the same way scripts/gen-cpu-fixtures.mjs makes the integer ones: each
 * snippet is assembled with nasm and run natively by test/cpu/native/harness.c (gcc -m32).
 *
 * The snippets keep their vector operands in the harness's data window (ESI = DATA_ADDR):
 *   +0   X0: XMM0 (or MM0) in, and out        +16  X1: XMM1 (or MM1) in/out, also the m128 operand
 *   +32  MXCSR loaded before the instruction  +36  MXCSR stored after it (the exception flags)
 * A typical snippet is `ldmxcsr [esi+32]; movdqu xmm0, [esi]; movdqu xmm1, [esi+16]; <insn>;
 * movdqu [esi], xmm0; movdqu [esi+16], xmm1; stmxcsr [esi+36]`, so the whole result — every
 * lane, the untouched lanes of scalar forms and the MXCSR flags — is compared byte for byte.
 * Operands cover ±0, denormals, ±inf, QNaN/SNaN, max/min values, rounding ties, the integer
 * range boundaries, saturation boundaries and every shift count, under each MXCSR rounding
 * mode and with FTZ/DAZ. Unmasked exceptions are not run natively (they would be SIGFPE in
 * the harness); the hand-written tests cover #XM.
 *
 * Exceptions: RCPPS/RSQRTPS results are implementation-specific; their fixtures record the
 * host's value and the test compares within the SDM's relative error bound (the snippet's
 * `approx` field).
 *
 * Usage: node scripts/gen-sse-fixtures.mjs   (needs nasm and gcc -m32; KEEP=1 keeps the work dir)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'test/cpu/fixtures');
const HARNESS_C = join(ROOT, 'test/cpu/native/harness.c');
const CODE_ADDR = 0x00100000;
const DATA_ADDR = 0x00110000;
const SENTINELS = [0xa0a1a2a3, 0xc0c1c2c3, 0xd0d1d2d3, 0xb0b1b2b3, 0, 0xe0e1e2e3, 0x51525354, 0xd1d2d3d4];
const WINDOW = 40;
const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
const ALL = CF | PF | AF | ZF | SF | OF | DF;

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
}
let rand = rng(7);

// --- MXCSR configurations ---------------------------------------------------------------------
const MX = { RN: 0x1f80, RD: 0x3f80, RU: 0x5f80, RZ: 0x7f80, FTZ: 0x9f80, DAZ: 0x1fc0, FTZDAZ: 0x9fc0 };
const MX_ALL = [MX.RN, MX.RD, MX.RU, MX.RZ, MX.FTZ, MX.DAZ];

// --- Operand values (bit patterns) ------------------------------------------------------------
const S_EDGE = [
  0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x80800000, 0x3f800000, 0xbf800000,
  0x3f800001, 0x40400000, 0x3eaaaaab, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000,
  0xffc12345, 0x7f800001, 0xff912345, 0x1f800000, 0x5f800000, 0x00ffffff, 0x3f000000, 0x4f000000,
  0xcf000001, 0x40200000, 0xc0600000, 0x20000001,
];
const S_RC = [0x3f800000, 0xbf800000, 0x3eaaaaab, 0x40400000, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x00800000,
  0x80800001, 0x1f800000, 0x5f800000, 0x3f800001, 0x40200000, 0xc0600000, 0x007fffff, 0x20000001];
/** Doubles as [lo, hi]. */
const D_EDGE = [
  [0, 0], [0, 0x80000000], [1, 0], [0xffffffff, 0x800fffff], [0, 0x00100000], [0, 0x80100000], [0, 0x3ff00000],
  [0, 0xbff00000], [1, 0x3ff00000], [0, 0x40080000], [0x55555555, 0x3fd55555], [0xffffffff, 0x7fefffff],
  [0xffffffff, 0xffefffff], [0, 0x7ff00000], [0, 0xfff00000], [0, 0x7ff80000], [0x12345678, 0xfff81234],
  [1, 0x7ff00000], [0x9abc, 0xfff41234], [0, 0x1ff00000], [0, 0x5ff00000], [0xffffffff, 0x001fffff],
  [0, 0x3fe00000], [0, 0x41e00000], [0x00200000, 0xc1e00000], [0, 0x40040000], [0, 0xc00c0000], [1, 0x20000000],
  [0, 0x36a00000], [0xe0000000, 0x47efffff], [0x10000000, 0x3ff00000],
];
const D_RC = [[0, 0x3ff00000], [0, 0xbff00000], [0x55555555, 0x3fd55555], [0, 0x40080000], [0xffffffff, 0x7fefffff],
  [0xffffffff, 0xffefffff], [1, 0], [0, 0x00100000], [1, 0x80100000], [0, 0x1ff00000], [0, 0x5ff00000], [1, 0x3ff00000],
  [0, 0x40040000], [0, 0xc00c0000], [0xffffffff, 0x000fffff], [0xe0000000, 0x47efffff]];

/** Subsets for the scalar forms, whose flags are checked pair by pair. */
const S_SCALAR = [0, 0x80000000, 1, 0x00800000, 0x3f800000, 0xbf800000, 0x3eaaaaab, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x1f800000, 0x5f800000];
const D_SCALAR = [D_EDGE[0], D_EDGE[1], D_EDGE[2], D_EDGE[4], D_EDGE[6], D_EDGE[7], D_EDGE[10], D_EDGE[11], D_EDGE[13], D_EDGE[14], D_EDGE[15], D_EDGE[17], D_EDGE[19], D_EDGE[20]];

function pairs(a, b = a) {
  const out = [];
  for (const x of a) for (const y of b) out.push([x, y]);
  return out;
}

// --- Groups and snippets ----------------------------------------------------------------------
class Group {
  constructor(name, seed, about) {
    this.name = name;
    this.about = about;
    this.snippets = [];
    rand = rng(seed);
  }
  /** `src`: instructions separated by "; ". `out`: registers it may change. */
  snippet(asm, src, extra = {}) {
    const s = { asm, src, in: ['esi', ...(extra.in ?? [])], out: extra.out ?? [], mask: extra.mask ?? ALL, mem: WINDOW, cases: [], approx: extra.approx };
    this.snippets.push(s);
    return s;
  }
}

function u32s(v) { return v.map((x) => x >>> 0); }
function win(x0, x1, mx) {
  const b = Buffer.alloc(WINDOW);
  u32s(x0).forEach((v, i) => b.writeUInt32LE(v, 4 * i));
  u32s(x1).forEach((v, i) => b.writeUInt32LE(v, 16 + 4 * i));
  b.writeUInt32LE(mx >>> 0, 32);
  b.writeUInt32LE(0xdeadbeef, 36);
  return b;
}
function add(s, x0, x1, mx = MX.RN, regs = {}) {
  s.cases.push({ regs: { esi: DATA_ADDR, ...regs }, flags: 0x2 | (rand() & (CF | ZF | SF | OF | PF | AF)), mem: win(x0, x1, mx) });
}
function rnd4() { return [rand(), rand(), rand(), rand()]; }

const PRO = 'ldmxcsr [esi+32]; movdqu xmm0, [esi]; movdqu xmm1, [esi+16]';
const EPI = 'movdqu [esi], xmm0; movdqu [esi+16], xmm1; stmxcsr [esi+36]';
const xmmSnippet = (insn) => `${PRO}; ${insn}; ${EPI}`;
const MPRO = 'movq mm0, [esi]; movq mm1, [esi+16]';
const MEPI = 'movq [esi], mm0; movq [esi+16], mm1; emms';
const mmSnippet = (insn) => `${MPRO}; ${insn}; ${MEPI}`;

/** Packs operand pairs into lanes: `per` pairs per case (4 singles or 2 doubles). */
function packedCases(s, prs, per, mxs, double) {
  for (const mx of mxs) {
    for (let i = 0; i < prs.length; i += per) {
      const x0 = rnd4(), x1 = rnd4();
      for (let j = 0; j < per; j++) {
        const [a, b] = prs[(i + j) % prs.length];
        if (double) { x0[2 * j] = a[0]; x0[2 * j + 1] = a[1]; x1[2 * j] = b[0]; x1[2 * j + 1] = b[1]; }
        else { x0[j] = a; x1[j] = b; }
      }
      add(s, x0, x1, mx);
    }
  }
}

/** Scalar: one pair per case, other lanes random (they must survive). */
function scalarCases(s, prs, mxs, double) {
  for (const mx of mxs) {
    for (const [a, b] of prs) {
      const x0 = rnd4(), x1 = rnd4();
      if (double) { x0[0] = a[0]; x0[1] = a[1]; x1[0] = b[0]; x1[1] = b[1]; }
      else { x0[0] = a; x1[0] = b; }
      add(s, x0, x1, mx);
    }
  }
}

const groups = [];

// ---- Floating-point arithmetic -----------------------------------------------------------------
{
  const g = new Group('sse-arith', 11, 'ADD SUB MUL DIV MIN MAX SQRT in PS/SS/PD/SD forms: results, NaN rules, MXCSR flags under every rounding mode, FTZ and DAZ');
  groups.push(g);
  for (const op of ['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt']) {
    packedCases(g.snippet(`${op}ps xmm0, xmm1`, xmmSnippet(`${op}ps xmm0, xmm1`)), pairs(S_EDGE), 4, [MX.RN], false);
    packedCases(g.snippet(`${op}ps xmm0, xmm1 (RC, FTZ, DAZ)`, xmmSnippet(`${op}ps xmm0, xmm1`)), pairs(S_RC.slice(0, 12)), 4, MX_ALL.slice(1), false);
    scalarCases(g.snippet(`${op}ss xmm0, xmm1`, xmmSnippet(`${op}ss xmm0, xmm1`)), pairs(S_SCALAR), [MX.RN], false);
    scalarCases(g.snippet(`${op}ss xmm0, [esi+16]`, xmmSnippet(`${op}ss xmm0, [esi+16]`)), pairs(S_RC.slice(0, 6)), [MX.RN, MX.RZ], false);
    packedCases(g.snippet(`${op}pd xmm0, xmm1`, xmmSnippet(`${op}pd xmm0, xmm1`)), pairs(D_EDGE.slice(0, 22)), 2, [MX.RN], true);
    packedCases(g.snippet(`${op}pd xmm0, xmm1 (RC, FTZ, DAZ)`, xmmSnippet(`${op}pd xmm0, xmm1`)), pairs(D_RC.slice(0, 12)), 2, MX_ALL.slice(1), true);
    scalarCases(g.snippet(`${op}sd xmm0, xmm1`, xmmSnippet(`${op}sd xmm0, xmm1`)), pairs(D_SCALAR), [MX.RN], true);
    scalarCases(g.snippet(`${op}pd xmm0, [esi+16]`, xmmSnippet(`${op}pd xmm0, [esi+16]`)), pairs(D_RC.slice(0, 6)), [MX.RN, MX.RU], true);
  }
  // Ordinary operands (random significands, exponents near 1) through the fast and exact paths.
  const nearS = () => ((rand() & 0x807fffff) | ((124 + (rand() % 7)) << 23)) >>> 0;
  const nearD = () => [rand(), ((rand() & 0x800fffff) | ((1020 + (rand() % 7)) << 20)) >>> 0];
  for (const op of ['add', 'sub', 'mul', 'div', 'sqrt']) {
    const sp = [];
    const dp = [];
    for (let i = 0; i < 48; i++) {
      const x = nearS(), y = nearS();
      sp.push([x, op === 'sqrt' ? y & 0x7fffffff : y]);
      const dx = nearD(), dy = nearD();
      dp.push([dx, op === 'sqrt' ? [dy[0], dy[1] & 0x7fffffff] : dy]);
    }
    packedCases(g.snippet(`${op}ps xmm0, xmm1 (ordinary operands)`, xmmSnippet(`${op}ps xmm0, xmm1`)), sp, 4, [MX.RN, MX.RD, MX.RU, MX.RZ], false);
    packedCases(g.snippet(`${op}pd xmm0, xmm1 (ordinary operands)`, xmmSnippet(`${op}pd xmm0, xmm1`)), dp, 2, [MX.RN, MX.RD, MX.RU, MX.RZ], true);
  }
  // Underflow boundaries: products landing just below/above the smallest normal, exact and inexact.
  const tinyS = [0x3f7fffff, 0x3f800001, 0x00800001, 0x00800000, 0x3f000000, 0x3effffff, 0x3f7ffffe, 0x33800000];
  packedCases(g.snippet('mulps xmm0, xmm1 (tininess)', xmmSnippet('mulps xmm0, xmm1')), pairs(tinyS, [0x00800000, 0x00800001, 0x80ffffff, 0x0000ffff]), 4, MX_ALL, false);
}

// ---- Compares --------------------------------------------------------------------------------------
{
  const g = new Group('sse-compare', 12, 'CMPPS/CMPSS/CMPPD/CMPSD with all 8 predicates, COMISS/UCOMISS/COMISD/UCOMISD: masks, EFLAGS and IE/DE');
  groups.push(g);
  const sPairs = pairs(S_EDGE.slice(0, 20));
  const dPairs = pairs(D_SCALAR);
  for (let p = 0; p < 8; p++) {
    packedCases(g.snippet(`cmpps xmm0, xmm1, ${p}`, xmmSnippet(`cmpps xmm0, xmm1, ${p}`)), sPairs, 4, [MX.RN], false);
    packedCases(g.snippet(`cmppd xmm0, xmm1, ${p}`, xmmSnippet(`cmppd xmm0, xmm1, ${p}`)), dPairs, 2, [MX.RN], true);
    scalarCases(g.snippet(`cmpss xmm0, xmm1, ${p}`, xmmSnippet(`cmpss xmm0, xmm1, ${p}`)), pairs(S_EDGE.slice(13, 20), S_EDGE.slice(0, 8)), [MX.RN, MX.DAZ], false);
    scalarCases(g.snippet(`cmpsd xmm0, xmm1, ${p}`, xmmSnippet(`cmpsd xmm0, xmm1, ${p}`)), pairs(D_EDGE.slice(13, 20), D_EDGE.slice(0, 8)), [MX.RN], true);
  }
  for (const op of ['comiss', 'ucomiss']) scalarCases(g.snippet(`${op} xmm0, xmm1`, xmmSnippet(`${op} xmm0, xmm1`)), pairs(S_SCALAR), [MX.RN], false);
  for (const op of ['comisd', 'ucomisd']) scalarCases(g.snippet(`${op} xmm0, xmm1`, xmmSnippet(`${op} xmm0, xmm1`)), pairs(D_SCALAR), [MX.RN], true);
  scalarCases(g.snippet('comiss xmm0, [esi+16] (DAZ)', xmmSnippet('comiss xmm0, [esi+16]')), pairs(S_EDGE.slice(0, 8)), [MX.DAZ], false);
}

// ---- Conversions -------------------------------------------------------------------------------------
{
  const g = new Group('sse-convert', 13, 'every CVT* conversion under each MXCSR rounding mode: integer indefinite, NaN quieting, IE/DE/OE/UE/PE, FTZ, DAZ');
  groups.push(g);
  const sVals = [...S_EDGE, 0x3fc00000, 0xbfc00000, 0x3f400000, 0xbf400000, 0x4effffff, 0xcf000000, 0x4f800000, 0x3effffff, 0xc0200000];
  const dVals = [...D_EDGE, [0, 0x3ff80000], [0, 0xbff80000], [0, 0x3fe80000], [0xffc00000, 0x41dfffff], [0, 0xc1e00000],
    [0x00100000, 0xc1e00000], [0xfff00000, 0xc1dfffff], [0, 0x41f00000], [0xffffffff, 0x3fdfffff], [0, 0xc0040000]];
  const ints = [0, 1, -1, 0x7fffffff, 0x80000000, 0x01000001, 0x00ffffff, 0x7fffffc0, 0x7fffffbf, 0x12345679, 0xfedcba97, 3, 0x40000001, 0x01000003];
  const allMx = [MX.RN, MX.RD, MX.RU, MX.RZ];
  // float -> int32 (GPR)
  for (const [op, src, vals, dbl] of [['cvtss2si', 'xmm1', sVals, false], ['cvttss2si', 'xmm1', sVals, false], ['cvtsd2si', 'xmm1', dVals, true], ['cvttsd2si', 'xmm1', dVals, true], ['cvtss2si', 'dword [esi+16]', sVals.slice(0, 12), false]]) {
    const s = g.snippet(`${op} eax, ${src}`, `${PRO}; ${op} eax, ${src}; ${EPI}`, { in: ['eax'], out: ['eax'] });
    for (const mx of [...allMx, MX.DAZ]) for (const v of vals) {
      const x1 = rnd4();
      if (dbl) { x1[0] = v[0]; x1[1] = v[1]; } else x1[0] = v;
      add(s, rnd4(), x1, mx, { eax: rand() });
    }
  }
  // int32 (GPR) -> float
  for (const op of ['cvtsi2ss', 'cvtsi2sd']) {
    const s = g.snippet(`${op} xmm0, eax`, `${PRO}; ${op} xmm0, eax; ${EPI}`, { in: ['eax'] });
    for (const mx of allMx) for (const v of ints) add(s, rnd4(), rnd4(), mx, { eax: v });
    const m = g.snippet(`${op} xmm0, dword [esi+16]`, xmmSnippet(`${op} xmm0, dword [esi+16]`));
    for (const v of ints.slice(0, 6)) add(m, rnd4(), [v, rand(), rand(), rand()], MX.RN);
  }
  // packed float <-> int32 in XMM
  const packS = (s, vals, mxs) => packedCases(s, vals.map((v) => [rand(), v]), 4, mxs, false);
  const packD = (s, vals, mxs) => packedCases(s, vals.map((v) => [[rand(), rand()], v]), 2, mxs, true);
  packS(g.snippet('cvtps2dq xmm0, xmm1', xmmSnippet('cvtps2dq xmm0, xmm1')), sVals, [...allMx, MX.DAZ]);
  packS(g.snippet('cvttps2dq xmm0, xmm1', xmmSnippet('cvttps2dq xmm0, xmm1')), sVals, [MX.RN, MX.RD]);
  packS(g.snippet('cvtdq2ps xmm0, xmm1', xmmSnippet('cvtdq2ps xmm0, xmm1')), ints, allMx);
  packD(g.snippet('cvtpd2dq xmm0, xmm1', xmmSnippet('cvtpd2dq xmm0, xmm1')), dVals, [...allMx, MX.DAZ]);
  packD(g.snippet('cvttpd2dq xmm0, xmm1', xmmSnippet('cvttpd2dq xmm0, xmm1')), dVals, [MX.RN, MX.RU]);
  packS(g.snippet('cvtdq2pd xmm0, xmm1', xmmSnippet('cvtdq2pd xmm0, xmm1')), ints, [MX.RN]);
  // single <-> double
  packS(g.snippet('cvtps2pd xmm0, xmm1', xmmSnippet('cvtps2pd xmm0, xmm1')), sVals, [MX.RN, MX.DAZ]);
  scalarCases(g.snippet('cvtss2sd xmm0, xmm1', xmmSnippet('cvtss2sd xmm0, xmm1')), sVals.map((v) => [rand(), v]), [MX.RN, MX.DAZ], false);
  const narrow = [...dVals, [0, 0x47f00000], [0xf0000000, 0x47efffff], [0x10000000, 0x47efffff], [0, 0x38100000], [1, 0x380fffff],
    [0, 0x36a00000], [0, 0x36900000], [0x00000001, 0x36900000], [0xffffffff, 0x380fffff], [0xe0000000, 0x380fffff], [0, 0xb8000000]];
  packD(g.snippet('cvtpd2ps xmm0, xmm1', xmmSnippet('cvtpd2ps xmm0, xmm1')), narrow, MX_ALL);
  scalarCases(g.snippet('cvtsd2ss xmm0, xmm1', xmmSnippet('cvtsd2ss xmm0, xmm1')), narrow.map((v) => [[rand(), rand()], v]), MX_ALL, true);
  // MMX forms
  const mmxConv = [
    ['cvtpi2ps xmm0, mm1', 'ldmxcsr [esi+32]; movdqu xmm0, [esi]; movq mm1, [esi+16]; cvtpi2ps xmm0, mm1; movdqu [esi], xmm0; stmxcsr [esi+36]; emms', ints, allMx],
    ['cvtpi2pd xmm0, mm1', 'ldmxcsr [esi+32]; movdqu xmm0, [esi]; movq mm1, [esi+16]; cvtpi2pd xmm0, mm1; movdqu [esi], xmm0; stmxcsr [esi+36]; emms', ints, [MX.RN]],
    ['cvtpi2ps xmm0, [esi+16]', 'ldmxcsr [esi+32]; movdqu xmm0, [esi]; cvtpi2ps xmm0, [esi+16]; movdqu [esi], xmm0; stmxcsr [esi+36]', ints, [MX.RZ]],
  ];
  for (const [asm, src, vals, mxs] of mmxConv) {
    const s = g.snippet(asm, src);
    for (const mx of mxs) for (let i = 0; i < vals.length; i += 2) add(s, rnd4(), [vals[i], vals[(i + 1) % vals.length], rand(), rand()], mx);
  }
  for (const op of ['cvtps2pi', 'cvttps2pi']) {
    const s = g.snippet(`${op} mm0, xmm1`, `ldmxcsr [esi+32]; movdqu xmm1, [esi+16]; ${op} mm0, xmm1; movq [esi], mm0; stmxcsr [esi+36]; emms`);
    for (const mx of [MX.RN, MX.RD]) for (let i = 0; i < sVals.length; i += 2) add(s, rnd4(), [sVals[i], sVals[(i + 1) % sVals.length], rand(), rand()], mx);
  }
  for (const op of ['cvtpd2pi', 'cvttpd2pi']) {
    const s = g.snippet(`${op} mm0, xmm1`, `ldmxcsr [esi+32]; movdqu xmm1, [esi+16]; ${op} mm0, xmm1; movq [esi], mm0; stmxcsr [esi+36]; emms`);
    for (const mx of [MX.RN, MX.RU]) for (let i = 0; i < dVals.length; i += 2) {
      const a = dVals[i], b = dVals[(i + 1) % dVals.length];
      add(s, rnd4(), [a[0], a[1], b[0], b[1]], mx);
    }
  }
}

// ---- Moves, logic, shuffles, approximations, MXCSR ------------------------------------------------
{
  const g = new Group('sse-move', 14, 'MOV* loads/stores/register forms, logic, shuffles, unpacks, MOVMSK, RCP/RSQRT (within 1.5*2^-12), LDMXCSR/STMXCSR');
  groups.push(g);
  const simple = (asm, n = 6, mxs = [MX.RN]) => {
    const s = g.snippet(asm, xmmSnippet(asm));
    for (const mx of mxs) for (let i = 0; i < n; i++) add(s, rnd4(), rnd4(), mx);
    return s;
  };
  for (const asm of ['movaps xmm0, xmm1', 'movaps xmm0, [esi+16]', 'movaps [esi+16], xmm0', 'movups xmm0, [esi+17]', 'movups [esi+17], xmm0',
    'movapd xmm0, [esi+16]', 'movupd [esi+19], xmm0', 'movdqa xmm0, [esi+16]', 'movdqa [esi+16], xmm0', 'movdqu xmm0, [esi+21]', 'movdqu [esi+23], xmm0',
    'movss xmm0, xmm1', 'movss xmm0, [esi+16]', 'movss [esi+16], xmm0', 'movsd xmm0, xmm1', 'movsd xmm0, [esi+16]', 'movsd [esi+16], xmm0',
    'movlps xmm0, [esi+16]', 'movlps [esi+16], xmm0', 'movhps xmm0, [esi+16]', 'movhps [esi+16], xmm0', 'movhlps xmm0, xmm1', 'movlhps xmm0, xmm1',
    'movlpd xmm0, [esi+16]', 'movlpd [esi+16], xmm0', 'movhpd xmm0, [esi+24]', 'movhpd [esi+16], xmm0', 'movq xmm0, xmm1', 'movq xmm0, [esi+16]',
    'movq [esi+16], xmm0', 'movntps [esi+16], xmm0', 'movntpd [esi+16], xmm0', 'movntdq [esi+16], xmm0',
    'andps xmm0, xmm1', 'andnps xmm0, xmm1', 'orps xmm0, [esi+16]', 'xorps xmm0, xmm1', 'andpd xmm0, xmm1', 'andnpd xmm0, [esi+16]', 'orpd xmm0, xmm1', 'xorpd xmm0, xmm1',
    'unpcklps xmm0, xmm1', 'unpckhps xmm0, xmm1', 'unpcklpd xmm0, xmm1', 'unpckhpd xmm0, [esi+16]', 'movd xmm0, [esi+16]']) simple(asm);
  for (const imm of [0x00, 0x1b, 0xe4, 0x4e, 0xff, 0x93, 0x39]) simple(`shufps xmm0, xmm1, ${imm}`, 3);
  for (const imm of [0, 1, 2, 3]) simple(`shufpd xmm0, xmm1, ${imm}`, 3);
  for (const [asm, r] of [['movmskps eax, xmm1', 'eax'], ['movmskpd eax, xmm1', 'eax'], ['pmovmskb eax, xmm1', 'eax'], ['movd eax, xmm1', 'eax'], ['pextrw eax, xmm1, 5', 'eax']]) {
    const s = g.snippet(asm, xmmSnippet(asm), { in: [r], out: [r] });
    for (let i = 0; i < 6; i++) add(s, rnd4(), rnd4(), MX.RN, { [r]: rand() });
  }
  for (const asm of ['movd xmm0, eax', 'pinsrw xmm0, eax, 3', 'pinsrw xmm0, eax, 7', 'movnti [esi+16], eax']) {
    const s = g.snippet(asm, xmmSnippet(asm), { in: ['eax'] });
    for (let i = 0; i < 4; i++) add(s, rnd4(), rnd4(), MX.RN, { eax: rand() });
  }
  for (const asm of ['rcpps xmm0, xmm1', 'rsqrtps xmm0, xmm1', 'rcpss xmm0, xmm1', 'rsqrtss xmm0, [esi+16]']) {
    const s = g.snippet(asm, xmmSnippet(asm), { approx: true });
    const vals = [...S_EDGE, 0x40800000, 0x3e800000, 0x7e800000, 0x7f000000, 0x00400000, 0x3f7fffff, 0x41200000, 0x42c80000];
    for (let i = 0; i < vals.length; i += 4) add(s, rnd4(), [vals[i], vals[i + 1] ?? 0x3f800000, vals[i + 2] ?? 0x40000000, vals[i + 3] ?? 0x3f000000], MX.RN);
    for (let i = 0; i < 16; i++) add(s, rnd4(), [0x3f800000 + (rand() & 0xffffff), 0x3f800000 + (rand() & 0x7fffff), rand() & 0x7fffffff, rand() & 0x7fffffff], MX.RN);
  }
  // LDMXCSR/STMXCSR round trip of every valid bit (flags sticky, RC, masks, FTZ, DAZ).
  const s = g.snippet('ldmxcsr / stmxcsr', 'ldmxcsr [esi+32]; stmxcsr [esi+36]');
  for (const v of [0x1f80, 0, 0xffff, 0x003f, 0x8040, 0x6000, 0x1234, 0xfedc]) add(s, rnd4(), rnd4(), v);
}

// ---- Packed integers on XMM --------------------------------------------------------------------
/** Lanes worth testing for element size `bits`: boundaries in every lane, then random. */
function intVectors(bits, n) {
  const edges = { 8: [0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x40], 16: [0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x00ff, 0xff00, 0x7f80], 32: [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xffff8000, 0x00007fff, 0x0000ffff, 0xffff0000] }[bits] ?? [0, 0xffffffff, 1, 0x80000000, 0x7fffffff];
  const out = [];
  const per = 128 / (bits === 64 ? 32 : bits);
  for (let k = 0; k < n; k++) {
    const b = Buffer.alloc(16);
    for (let i = 0; i < per; i++) {
      const v = k < 6 ? edges[(i * 3 + k * 5) % edges.length] : rand();
      if (bits === 8) b[i] = v & 0xff;
      else if (bits === 16) b.writeUInt16LE(v & 0xffff, 2 * i);
      else b.writeUInt32LE(v >>> 0, 4 * i);
    }
    out.push([0, 1, 2, 3].map((i) => b.readUInt32LE(4 * i)));
  }
  return out;
}

const INT_OPS = [
  ['paddb', 8], ['paddw', 16], ['paddd', 32], ['paddq', 64], ['psubb', 8], ['psubw', 16], ['psubd', 32], ['psubq', 64],
  ['paddsb', 8], ['paddsw', 16], ['paddusb', 8], ['paddusw', 16], ['psubsb', 8], ['psubsw', 16], ['psubusb', 8], ['psubusw', 16],
  ['pmullw', 16], ['pmulhw', 16], ['pmulhuw', 16], ['pmuludq', 32], ['pmaddwd', 16], ['psadbw', 8], ['pavgb', 8], ['pavgw', 16],
  ['pminub', 8], ['pmaxub', 8], ['pminsw', 16], ['pmaxsw', 16], ['pcmpeqb', 8], ['pcmpeqw', 16], ['pcmpeqd', 32],
  ['pcmpgtb', 8], ['pcmpgtw', 16], ['pcmpgtd', 32], ['packsswb', 16], ['packssdw', 32], ['packuswb', 16],
  ['punpcklbw', 8], ['punpcklwd', 16], ['punpckldq', 32], ['punpckhbw', 8], ['punpckhwd', 16], ['punpckhdq', 32],
  ['pand', 32], ['pandn', 32], ['por', 32], ['pxor', 32],
];
const SHIFT_COUNTS = [0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255];

function intGroup(name, seed, mmx) {
  const g = new Group(name, seed, mmx
    ? 'MMX and the SSE/SSE2 additions on MMX registers: every packed-integer op, shifts by every count, PSHUFW, PINSRW/PEXTRW, PMOVMSKB, MOVD/MOVQ, MASKMOVQ, MOVNTQ'
    : 'SSE2 packed integers on XMM: every op incl. saturating forms, shifts by register and immediate of every count, PSLLDQ/PSRLDQ, PSHUFD/PSHUFHW/PSHUFLW, PUNPCK*QDQ, MASKMOVDQU');
  groups.push(g);
  const snip = mmx ? mmSnippet : xmmSnippet;
  const R = mmx ? ['mm0', 'mm1'] : ['xmm0', 'xmm1'];
  const ops = mmx ? INT_OPS : [...INT_OPS, ['punpcklqdq', 64], ['punpckhqdq', 64]];
  for (const [op, bits] of ops) {
    const s = g.snippet(`${op} ${R[0]}, ${R[1]}`, snip(`${op} ${R[0]}, ${R[1]}`));
    const va = intVectors(bits, 10), vb = intVectors(bits, 10).reverse();
    for (let i = 0; i < va.length; i++) add(s, va[i], vb[(i + 3) % vb.length]);
  }
  // A memory source for a few.
  for (const op of ['paddw', 'pcmpgtb', 'pmaddwd', 'packuswb']) {
    const s = g.snippet(`${op} ${R[0]}, [esi+16]`, snip(`${op} ${R[0]}, [esi+16]`));
    for (let i = 0; i < 4; i++) add(s, rnd4(), rnd4());
  }
  // Shifts by register (count in the low qword of the source) and by immediate.
  for (const op of ['psrlw', 'psrld', 'psrlq', 'psraw', 'psrad', 'psllw', 'pslld', 'psllq']) {
    const s = g.snippet(`${op} ${R[0]}, ${R[1]}`, snip(`${op} ${R[0]}, ${R[1]}`));
    for (const c of SHIFT_COUNTS) add(s, [0x80018002, 0xfffe7fff, rand(), rand()], [c, 0, rand(), rand()]);
    add(s, rnd4(), [1, 1, 0, 0]);
    add(s, rnd4(), [0x80000000, 0, 0, 0]);
    for (const c of [0, 1, 15, 16, 31, 32, 63, 64, 200]) {
      const t = g.snippet(`${op} ${R[0]}, ${c}`, snip(`${op} ${R[0]}, ${c}`));
      add(t, [0x80018002, 0xfffe7fff, 0x12345678, 0x9abcdef0], rnd4());
    }
  }
  if (!mmx) {
    for (const op of ['pslldq', 'psrldq']) for (const c of [0, 1, 3, 7, 8, 15, 16, 255]) {
      const t = g.snippet(`${op} xmm0, ${c}`, snip(`${op} xmm0, ${c}`));
      add(t, rnd4(), rnd4());
    }
    for (const imm of [0x1b, 0xe4, 0x00, 0xff, 0x4e]) for (const op of ['pshufd', 'pshufhw', 'pshuflw']) {
      const t = g.snippet(`${op} xmm0, xmm1, ${imm}`, snip(`${op} xmm0, xmm1, ${imm}`));
      add(t, rnd4(), rnd4());
      add(t, rnd4(), rnd4());
    }
    for (const asm of ['movq2dq xmm0, mm1', 'movdq2q mm1, xmm0']) {
      const t = g.snippet(asm, `movdqu xmm0, [esi]; movq mm1, [esi+16]; ${asm}; movdqu [esi], xmm0; movq [esi+16], mm1; emms`);
      for (let i = 0; i < 3; i++) add(t, rnd4(), rnd4());
    }
    const m = g.snippet('maskmovdqu xmm0, xmm1', `movdqu xmm0, [esi]; movdqu xmm1, [esi+16]; push edi; lea edi, [esi+20]; maskmovdqu xmm0, xmm1; pop edi; movdqu [esi], xmm0`);
    for (let i = 0; i < 4; i++) add(m, rnd4(), rnd4());
  } else {
    for (const imm of [0x1b, 0xe4, 0x00, 0xff, 0x4e]) {
      const t = g.snippet(`pshufw mm0, mm1, ${imm}`, snip(`pshufw mm0, mm1, ${imm}`));
      add(t, rnd4(), rnd4());
    }
    for (const [asm, r] of [['pmovmskb eax, mm1', 'eax'], ['movd eax, mm1', 'eax'], ['pextrw eax, mm1, 2', 'eax']]) {
      const t = g.snippet(asm, snip(asm), { in: [r], out: [r] });
      for (let i = 0; i < 4; i++) add(t, rnd4(), rnd4(), MX.RN, { [r]: rand() });
    }
    for (const asm of ['movd mm0, eax', 'pinsrw mm0, eax, 1', 'movd [esi+16], mm0', 'movq [esi+16], mm0', 'movntq [esi+16], mm0', 'movq mm0, [esi+16]', 'movd mm0, [esi+16]']) {
      const t = g.snippet(asm, snip(asm), { in: ['eax'] });
      for (let i = 0; i < 3; i++) add(t, rnd4(), rnd4(), MX.RN, { eax: rand() });
    }
    const m = g.snippet('maskmovq mm0, mm1', `movq mm0, [esi]; movq mm1, [esi+16]; push edi; lea edi, [esi+21]; maskmovq mm0, mm1; pop edi; emms`);
    for (let i = 0; i < 4; i++) add(m, rnd4(), rnd4());
  }
}
intGroup('sse-int', 15, false);
intGroup('mmx', 16, true);

// --- Assemble, run natively, write ------------------------------------------------------------
function hex(b) { return Buffer.from(b).toString('hex'); }

function assemble(work, snippets) {
  const lines = ['bits 32', `dd ${snippets.length}`];
  snippets.forEach((_, i) => lines.push(`dd S${i}, E${i}`));
  snippets.forEach((s, i) => {
    lines.push(`S${i}:`);
    for (const l of s.src.split('; ')) lines.push(`  ${l}`);
    lines.push(`E${i}:`);
  });
  writeFileSync(join(work, 'snippets.asm'), lines.join('\n') + '\n');
  execFileSync('nasm', ['-f', 'bin', '-o', join(work, 'snippets.bin'), join(work, 'snippets.asm')], { stdio: 'inherit' });
  const bin = readFileSync(join(work, 'snippets.bin'));
  snippets.forEach((s, i) => { s.code = bin.subarray(bin.readUInt32LE(4 + 8 * i), bin.readUInt32LE(8 + 8 * i)); });
}

function main() {
  const work = mkdtempSync(join(tmpdir(), 'pcvm-sse-fixtures-'));
  try {
    const all = groups.flatMap((g) => g.snippets);
    assemble(work, all);
    const exe = join(work, 'harness');
    execFileSync('gcc', ['-m32', '-O1', '-Wall', '-no-pie', '-fno-pic', '-o', exe, HARNESS_C], { stdio: 'inherit' });
    const flat = [];
    for (const s of all) for (const c of s.cases) flat.push([s, c]);
    const h = (v) => (v >>> 0).toString(16);
    const lines = flat.map(([s, c]) => {
      const r = SENTINELS.slice();
      for (const [k, v] of Object.entries(c.regs)) r[['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'].indexOf(k)] = v >>> 0;
      return [hex(s.code), h(r[0]), h(r[1]), h(r[2]), h(r[3]), h(r[5]), h(r[6]), h(r[7]), h(c.flags), hex(c.mem)].join(' ');
    });
    const res = spawnSync(exe, [], { input: lines.join('\n') + '\n', maxBuffer: 1 << 28, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`native harness failed: ${res.stderr}`);
    const outLines = res.stdout.trimEnd().split('\n');
    if (outLines.length !== flat.length) throw new Error('result count mismatch');
    flat.forEach(([s, c], k) => {
      const parts = outLines[k].split(' ');
      if (parts[0] !== 'OK') throw new Error(`${s.asm}: host raised signal ${parts[1]} for ${hex(c.mem)}`);
      const regs = parts.slice(1, 8).map((x) => parseInt(x, 16) >>> 0);
      const full = { eax: regs[0], ecx: regs[1], edx: regs[2], ebx: regs[3], ebp: regs[4], esi: regs[5], edi: regs[6] };
      const row = [c.flags, ...s.in.map((r) => c.regs[r] >>> 0), parseInt(parts[8], 16) & (ALL | 0x2), ...s.out.map((r) => full[r])];
      row.push({ mi: hex(c.mem), mo: parts[9] });
      (s.rows ??= []).push(row);
    });
    const host = cpus()[0]?.model ?? 'unknown';
    mkdirSync(OUT_DIR, { recursive: true });
    for (const g of groups) {
      const head = {
        about: `${g.about}. Generated by scripts/gen-sse-fixtures.mjs from the host CPU; do not edit.`,
        host, hostMode: '32-bit user mode (gcc -m32)', codeAddr: CODE_ADDR, dataAddr: DATA_ADDR, sentinels: SENTINELS,
        format: 'as test/cpu/fixtures/alu.json; the data window holds XMM0 (+0), XMM1 (+16), MXCSR in (+32) and out (+36)',
      };
      const parts = ['{'];
      for (const [k, v] of Object.entries(head)) parts.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
      parts.push('  "snippets": [');
      g.snippets.forEach((s, i) => {
        const meta = { asm: s.asm, code: hex(s.code), in: s.in, out: s.out, mask: s.mask, mem: s.mem };
        if (s.approx) meta.approx = true;
        parts.push(`    ${JSON.stringify(meta).slice(0, -1)}, "cases": [`);
        s.rows.forEach((r, j) => parts.push(`      ${JSON.stringify(r)}${j + 1 < s.rows.length ? ',' : ''}`));
        parts.push(`    ]}${i + 1 < g.snippets.length ? ',' : ''}`);
      });
      parts.push('  ]', '}');
      const file = join(OUT_DIR, `${g.name}.json`);
      writeFileSync(file, parts.join('\n') + '\n');
      const n = g.snippets.reduce((a, s) => a + s.cases.length, 0);
      console.log(`${g.name.padEnd(12)} ${String(g.snippets.length).padStart(4)} snippets ${String(n).padStart(6)} cases ${(readFileSync(file).length / 1024).toFixed(0).padStart(5)} KiB`);
    }
  } finally {
    if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  }
}

main();
