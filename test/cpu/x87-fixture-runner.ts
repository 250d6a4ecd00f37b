/**
 * Replays the host-CPU x87 fixtures (test/cpu/fixtures/x87-*.json, made by
 * scripts/gen-x87-fixtures.mjs) on our interpreter: one vitest case per snippet, each checking
 * every recorded input.
 *
 * Every snippet starts from FNINIT with all registers +0.0, loads FCW and up to three operands
 * from the data window, runs the instruction under test and ends with FNSAVE at +0x100. We
 * compare that FNSAVE image (control, status and tag words, FIP, FOP, FDP and every non-empty
 * register), the memory operand area (+0x40..+0x100), EAX and the arithmetic flags. FCS and
 * FDS are not compared: Linux user mode has other selectors than the test's flat GDT.
 *
 * Comparison modes (the case's `cmp`):
 *  - x: exact;
 *  - d: the host's 64-bit-significand register values rounded to 53 bits must be within one
 *    unit in the 53rd bit of ours, and FSW is compared without PE and C1 — our arithmetic
 *    carries 53 significant bits (precision control is not modelled);
 *  - t: transcendental results within a relative 2^-50 of the host's, FSW without PE and C1.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { CpuHarness, DATA_ADDR } from '../helpers/cpu-harness.js';

interface X87Case {
  fcw: number;
  st: string[];
  cmp: 'x' | 'd' | 't';
  mem?: string;
  eflags?: number;
  eax?: number;
  save: string;
  memOut?: string;
  eaxOut?: number;
  eflagsOut: number;
}

interface X87Snippet {
  asm: string;
  code: string;
  cases: X87Case[];
}

interface X87Fixture {
  about: string;
  host: string;
  hostMode: string;
  dataAddr: number;
  snippets: X87Snippet[];
}

const SAVE = 0x100;
const WINDOW = 0x170;
const MAX_REPORTED = 6;
const PE = 1 << 5;
const C1 = 1 << 9;

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** An 80-bit register from the FNSAVE image: sign+exponent and significand. */
function reg80(b: Uint8Array, i: number): { se: number; sig: bigint } {
  const o = 28 + 10 * i;
  let sig = 0n;
  for (let k = 7; k >= 0; k--) sig = (sig << 8n) | BigInt(b[o + k]!);
  return { se: u16(b, o + 8), sig };
}

function fmt80(r: { se: number; sig: bigint }): string {
  return `${r.se.toString(16).padStart(4, '0')}:${r.sig.toString(16).padStart(16, '0')}`;
}

/** Is this a finite nonzero value (not zero, infinity, NaN or unsupported)? */
function finiteNonzero(r: { se: number; sig: bigint }): boolean {
  const e = r.se & 0x7fff;
  return e !== 0x7fff && r.sig !== 0n;
}

/** Value as (neg, exponent of bit 63, normalized significand). */
function norm(r: { se: number; sig: bigint }): { neg: boolean; e: number; sig: bigint } {
  let e = (r.se & 0x7fff) === 0 ? -16382 : (r.se & 0x7fff) - 16383;
  let sig = r.sig;
  while (sig < 1n << 63n) {
    sig <<= 1n;
    e--;
  }
  return { neg: (r.se & 0x8000) !== 0, e, sig };
}

/** |a - b| in units of 2^(min exponent - 63 + shiftBits), as a BigInt, plus the scale. */
function closeEnough(ours: { se: number; sig: bigint }, host: { se: number; sig: bigint }, mode: 'd' | 't'): boolean {
  if (!finiteNonzero(ours) || !finiteNonzero(host)) return ours.se === host.se && ours.sig === host.sig;
  const a = norm(ours);
  const h = norm(host);
  if (a.neg !== h.neg) return false;
  let hs = h.sig;
  let he = h.e;
  if (mode === 'd') {
    // Round the host's significand to 53 bits, to nearest even.
    const rem = hs & 0x7ffn;
    hs >>= 11n;
    if (rem > 0x400n || (rem === 0x400n && (hs & 1n) === 1n)) hs += 1n;
    hs <<= 11n;
    if (hs >= 1n << 64n) {
      hs >>= 1n;
      he++;
    }
  }
  // Bring both to the smaller exponent and compare the difference with the tolerance.
  const e = Math.min(a.e, he);
  if (Math.abs(a.e - he) > 2) return false;
  const x = a.sig << BigInt(a.e - e);
  const y = hs << BigInt(he - e);
  const diff = x > y ? x - y : y - x;
  // 'd': one unit in the 53rd bit (2^11 in 64-bit units); 't': 2^-50 relative (2^13 units).
  return diff <= (mode === 'd' ? 1n << 11n : 1n << 13n);
}

export function loadX87Fixture(group: string): X87Fixture {
  const text = readFileSync(new URL(`./fixtures/${group}.json`, import.meta.url), 'utf8');
  const f = JSON.parse(text) as X87Fixture;
  if (f.dataAddr !== DATA_ADDR) throw new Error(`${group}.json was made for another data address`);
  return f;
}

/** Runs one case; returns a description of the differences, or undefined if none. */
function runCase(harness: CpuHarness, snip: X87Snippet, c: X87Case): string | undefined {
  const window = new Uint8Array(WINDOW);
  window[0] = c.fcw & 0xff;
  window[1] = c.fcw >> 8;
  c.st.forEach((h, i) => window.set(fromHex(h), 0x10 + 0x10 * i));
  if (c.mem) window.set(fromHex(c.mem), 0x40);
  const eaxIn = c.eax ?? 0x12345678;
  const res = harness.run({
    code: fromHex(snip.code),
    regs: { eax: eaxIn, ecx: 0xc0c1c2c3, edx: 0xd0d1d2d3, ebx: 0xb0b1b2b3, ebp: 0xe0e1e2e3, esi: DATA_ADDR, edi: 0xd1d2d3d4 },
    eflags: c.eflags ?? 0x202,
    mem: [{ addr: DATA_ADDR, bytes: window }],
  });
  const head = `${snip.asm} fcw=${c.fcw.toString(16)} st=[${c.st.join(' ')}]${c.mem ? ` mem=${c.mem}` : ''}`;
  if (res.exit !== 'halt' || res.exception) {
    return `${head}: ${res.exit}${res.exception ? ` exception ${res.exception.vector}` : ''}`;
  }
  const problems: string[] = [];
  const exp = fromHex(c.save);
  const got = res.read(DATA_ADDR + SAVE, 108);
  const fswMask = c.cmp === 'x' ? 0xffff : ~(PE | C1) & 0xffff;
  const fields: [string, number, number, number][] = [
    ['FCW', u16(exp, 0), u16(got, 0), 0xffff],
    ['FSW', u16(exp, 4), u16(got, 4), fswMask],
    ['FTW', u16(exp, 8), u16(got, 8), 0xffff],
    ['FIP', u32(exp, 12), u32(got, 12), 0xffffffff],
    ['FOP', u16(exp, 18), u16(got, 18), 0x7ff],
    ['FDP', u32(exp, 20), u32(got, 20), 0xffffffff],
  ];
  for (const [name, e, g, m] of fields) {
    if ((e & m) !== (g & m)) problems.push(`${name} expected ${e.toString(16)} got ${g.toString(16)}`);
  }
  const top = (u16(exp, 4) >> 11) & 7;
  const ftw = u16(exp, 8);
  for (let i = 0; i < 8; i++) {
    const p = (top + i) & 7;
    if (((ftw >> (2 * p)) & 3) === 3) continue; // empty: contents not compared
    const e = reg80(exp, i);
    const g = reg80(got, i);
    const same = c.cmp === 'x' ? e.se === g.se && e.sig === g.sig : closeEnough(g, e, c.cmp);
    if (!same) problems.push(`ST(${i}) expected ${fmt80(e)} got ${fmt80(g)}`);
  }
  const memIn = fromHex(c.mem ?? '');
  const memExp = new Uint8Array(SAVE - 0x40);
  memExp.set(c.memOut !== undefined ? fromHex(c.memOut) : memIn);
  const memGot = res.read(DATA_ADDR + 0x40, SAVE - 0x40);
  if (/fn(stenv|save) \[esi\+0x40\]/.test(snip.asm)) {
    // An environment image at +0x40: its FCS and FDS selectors are not compared.
    for (const o of /o16 fn(stenv|save)/.test(snip.asm) ? [8, 12] : [16, 24]) memExp.set(memGot.subarray(o, o + 2), o);
  }
  if (hex(memExp) !== hex(memGot)) problems.push(`memory expected ${hex(memExp).replace(/(00)+$/, '')} got ${hex(memGot).replace(/(00)+$/, '')}`);
  const eaxExp = c.eaxOut ?? eaxIn;
  if (res.regs.eax !== eaxExp) problems.push(`EAX expected ${eaxExp.toString(16)} got ${res.regs.eax.toString(16)}`);
  if ((res.eflags & 0x8d5) !== c.eflagsOut) problems.push(`EFLAGS expected ${c.eflagsOut.toString(16)} got ${(res.eflags & 0x8d5).toString(16)}`);
  return problems.length ? `${head} [${c.cmp}]: ${problems.join('; ')}` : undefined;
}

/** Registers one `describe` with an `it` per snippet of `fixtures/<group>.json`. */
export function describeX87Fixture(group: string, title: string): void {
  const fixture = loadX87Fixture(group);
  const harness = CpuHarness.flat32();
  describe(`${title} (host: ${fixture.host}, ${fixture.hostMode})`, () => {
    for (const snip of fixture.snippets) {
      it(`${snip.asm} (${snip.cases.length} cases)`, () => {
        const failures: string[] = [];
        let count = 0;
        for (const c of snip.cases) {
          const why = runCase(harness, snip, c);
          if (why) {
            count++;
            if (failures.length < MAX_REPORTED) failures.push(why);
          }
        }
        if (count) throw new Error(`${count} of ${snip.cases.length} cases differ from the host:\n${failures.join('\n')}`);
      });
    }
  });
}
