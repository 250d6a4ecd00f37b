/**
 * Replays the host-CPU fixtures (test/cpu/fixtures/*.json, made by scripts/gen-cpu-fixtures.mjs)
 * on our interpreter: one vitest case per instruction form, each checking every recorded input.
 *
 * For each case the registers the snippet takes as input are loaded (the others hold the
 * fixture's sentinel values and must come back unchanged), EFLAGS is set, the data window at
 * DATA_ADDR is filled, the snippet runs until the HLT the harness appends, and then:
 *  - the output registers, the data window and EIP (instruction length) must match the host;
 *  - the flags the SDM defines for that case must match; flags it leaves undefined are only
 *    tallied, and printed when PCVM_CPU_UNDEFINED_REPORT=1;
 *  - a "#DE" or "#UD" case must raise vector 0 or 6 with every register and the data window
 *    as they were (a fault restarts the instruction).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, it } from 'vitest';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { CODE_ADDR, CpuHarness, DATA_ADDR, EFLAGS, flagNames, hex32, REG_NAMES, type RegName } from '../helpers/cpu-harness.js';

const OBSERVED = 0xcd5; // OF DF SF ZF AF PF CF
const ARITH = 0x8d5;
const MAX_REPORTED = 8;
/** Faults the fixtures record (the host's SIGFPE and SIGILL). */
const FAULT_VECTORS: Record<string, number> = { '#DE': 0, '#UD': 6 };

type Extra = { m?: number; u?: RegName[]; mi?: string; mo?: string };
type Row = (number | string | Extra)[];

interface Snippet {
  asm: string;
  code: string;
  in: RegName[];
  out: RegName[];
  mask: number;
  mem?: number;
  /** Approximations (RCPPS/RSQRTPS): window dwords may differ from the host within the SDM's error bound. */
  approx?: boolean;
  cases: Row[];
}

interface Fixture {
  about: string;
  host: string;
  hostMode: string;
  codeAddr: number;
  dataAddr: number;
  sentinels: number[];
  snippets: Snippet[];
}

export function loadFixture(group: string): Fixture {
  const text = readFileSync(new URL(`./fixtures/${group}.json`, import.meta.url), 'utf8');
  const f = JSON.parse(text) as Fixture;
  if (f.codeAddr !== CODE_ADDR || f.dataAddr !== DATA_ADDR) throw new Error(`${group}.json was made for other addresses`);
  return f;
}

function fromHex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Where our CPU's choice of an undefined flag or register differs from the host. */
interface UndefinedDiff {
  asm: string;
  cases: number;
  flagBits: number;
  regs: Set<string>;
  example: string;
}

/**
 * Registers one `describe` with an `it` per snippet of `fixtures/<group>.json`.
 * `title` names what the group proves.
 */
export function describeFixture(group: string, title: string, setup?: (cpu: X86Cpu) => void, options: { jit?: boolean } = {}): void {
  const fixture = loadFixture(group);
  const harness = CpuHarness.flat32({ jit: options.jit });
  const undefinedDiffs: UndefinedDiff[] = [];

  describe(`${title} (host: ${fixture.host}, ${fixture.hostMode})`, () => {
    for (const snip of fixture.snippets) {
      const code = fromHex(snip.code);
      const spaced = snip.code.replace(/(..)(?!$)/g, '$1 ');
      it(`${snip.asm}  [${spaced}]  ${snip.cases.length} cases`, () => {
        const failures: string[] = [];
        let failed = 0;
        const und: UndefinedDiff = { asm: snip.asm, cases: 0, flagBits: 0, regs: new Set(), example: '' };
        for (const row of snip.cases) {
          const msg = checkCase(harness, fixture, snip, code, row, und, setup);
          if (msg) {
            failed++;
            if (failures.length < MAX_REPORTED) failures.push(msg);
          }
        }
        if (und.cases) undefinedDiffs.push(und);
        if (failed) {
          throw new Error(`${snip.asm} [${spaced}]: ${failed} of ${snip.cases.length} cases differ from the host CPU\n\n${failures.join('\n\n')}`);
        }
      });
    }
  });

  afterAll(() => {
    if (!process.env.PCVM_CPU_UNDEFINED_REPORT || undefinedDiffs.length === 0) return;
    const lines = [`Undefined flags/registers where our CPU differs from the host (${group}.json; not failures):`];
    for (const d of undefinedDiffs) {
      const what = [d.flagBits ? `flags ${flagNames(d.flagBits)}` : '', d.regs.size ? `registers ${[...d.regs].join(' ')}` : ''].filter(Boolean).join(', ');
      lines.push(`  ${d.asm.padEnd(34)} ${String(d.cases).padStart(5)} cases: ${what}; e.g. ${d.example}`);
    }
    console.log(lines.join('\n'));
  });
}

function checkCase(harness: CpuHarness, fx: Fixture, snip: Snippet, code: Uint8Array, row: Row, und: UndefinedDiff, setup?: (cpu: X86Cpu) => void): string | undefined {
  const nIn = snip.in.length;
  const flagsIn = row[0] as number;
  const regsIn: Record<RegName, number> = {} as Record<RegName, number>;
  REG_NAMES.forEach((r, i) => {
    regsIn[r] = fx.sentinels[i]! >>> 0;
  });
  snip.in.forEach((r, i) => {
    regsIn[r] = (row[1 + i] as number) >>> 0;
  });
  const last = row[row.length - 1];
  const extra: Extra = typeof last === 'object' ? (last as Extra) : {};
  const faultName = typeof row[1 + nIn] === 'string' ? (row[1 + nIn] as string) : undefined;
  const faultVector = faultName === undefined ? -1 : FAULT_VECTORS[faultName];
  if (faultVector === undefined) throw new Error(`unknown fault ${faultName} in the fixture`);
  const memIn = snip.mem ? (extra.mi ? fromHex(extra.mi) : new Uint8Array(snip.mem)) : undefined;

  const regs: Partial<Record<RegName, number>> = { ...regsIn };
  delete regs.esp; // the harness stack
  const res = harness.run({
    code,
    regs,
    // The host runs the snippets in user mode, where IF is always set (PUSHF shows it).
    eflags: flagsIn | EFLAGS.IF,
    clear: [{ addr: DATA_ADDR, length: 0x10000 }],
    mem: memIn ? [{ addr: DATA_ADDR, bytes: memIn }] : [],
    budget: 10000,
    setup,
  });

  const inputs = snip.in.map((r) => `${r}=${hex32(regsIn[r])}`).join(' ');
  const head = `${snip.asm}\n  in:       ${inputs} flags=${flagNames(flagsIn)}${extra.mi ? `\n  mem in:   ${extra.mi}` : ''}`;
  const problems: string[] = [];

  if (res.exit !== 'halt') problems.push(`did not reach HLT (${res.exit})`);
  if (faultVector >= 0) {
    // A fault leaves the registers and memory as they were and pushes the faulting EIP.
    const want = `${faultName} (vector ${faultVector})`;
    if (!res.exception) problems.push(`expected ${want}, no exception was raised`);
    else if (res.exception.vector !== faultVector) problems.push(`expected ${want}, got vector ${res.exception.vector}`);
    else if (res.exception.eip !== CODE_ADDR) problems.push(`${faultName} pushed EIP ${hex32(res.exception.eip)}, expected the faulting instruction ${hex32(CODE_ADDR)}`);
    for (const r of REG_NAMES) {
      if (r !== 'esp' && res.regs[r] !== regsIn[r]) problems.push(`${r} changed to ${hex32(res.regs[r])} by a faulting instruction`);
    }
    if (memIn && toHex(res.read(DATA_ADDR, memIn.length)) !== toHex(memIn)) problems.push('memory changed by a faulting instruction');
    return problems.length ? `${head}\n  expected: ${want}\n  problems: ${problems.join('; ')}` : undefined;
  }

  const exp: string[] = [];
  const act: string[] = [];
  if (res.exception) {
    exp.push('no exception');
    act.push(`exception vector ${res.exception.vector} at ${hex32(res.exception.eip)}${res.exception.errorCode !== undefined ? ` error code ${hex32(res.exception.errorCode)}` : ''}`);
  } else if (res.eip !== CODE_ADDR + code.length + 1) {
    problems.push(`EIP ${hex32(res.eip)} after HLT, expected ${hex32(CODE_ADDR + code.length + 1)} (instruction length)`);
  }
  const flagsOut = row[1 + nIn] as number;
  const outVals = snip.out.map((_, i) => (row[2 + nIn + i] as number) >>> 0);
  const undefRegs = new Set(extra.u ?? []);
  let undefRegDiff = '';
  for (const r of REG_NAMES) {
    if (r === 'esp') continue;
    const oi = snip.out.indexOf(r);
    const want = oi >= 0 ? outVals[oi]! : regsIn[r];
    const got = res.regs[r];
    if (want === got) continue;
    if (undefRegs.has(r)) {
      und.regs.add(r);
      undefRegDiff += ` ${r}: host ${hex32(want)} / ours ${hex32(got)}`;
      continue;
    }
    exp.push(`${r}=${hex32(want)}`);
    act.push(`${r}=${hex32(got)}`);
  }
  const mask = (extra.m ?? snip.mask) & OBSERVED;
  const diff = (res.eflags ^ flagsOut) & OBSERVED;
  if (diff & mask) {
    exp.push(`flags=${flagNames(flagsOut & mask)}`);
    act.push(`flags=${flagNames(res.eflags & mask)}`);
  }
  const undefDiff = diff & ~mask & ARITH;
  if (undefDiff || undefRegDiff) {
    if (!und.cases) {
      const flags = undefDiff ? ` flags: host ${flagNames(flagsOut & undefDiff)} / ours ${flagNames(res.eflags & undefDiff)}` : '';
      und.example = `${inputs} flags=${flagNames(flagsIn)} →${flags}${undefRegDiff}`;
    }
    und.cases++;
    und.flagBits |= undefDiff;
  }
  if (snip.mem) {
    const got = toHex(res.read(DATA_ADDR, snip.mem));
    if (got !== extra.mo && !(snip.approx && withinApproximation(got, extra.mo ?? ''))) {
      exp.push(`mem=${extra.mo}`);
      act.push(`mem=${got}`);
    }
  }
  if (!problems.length && !exp.length && !act.length) return undefined;
  const notes = [`compared flags: ${flagNames(mask)}`, ...problems].join('; ');
  return `${head}\n  expected: ${exp.join(' ')}\n  actual:   ${act.join(' ')}\n  (${notes})`;
}

/**
 * RCPPS/RSQRTPS: each dword must equal the host's, or both be finite nonzero single-precision
 * values within 3 * 2^-12 of each other relatively (each is within 1.5 * 2^-12 of the true
 * value, SDM Vol. 2 RCPPS/RSQRTPS).
 */
function withinApproximation(gotHex: string, wantHex: string): boolean {
  const got = Buffer.from(gotHex, 'hex');
  const want = Buffer.from(wantHex, 'hex');
  if (got.length !== want.length) return false;
  for (let i = 0; i + 4 <= got.length; i += 4) {
    const g = got.readUInt32LE(i), w = want.readUInt32LE(i);
    if (g === w) continue;
    const finite = (b: number) => (b & 0x7f800000) !== 0x7f800000 && (b & 0x7fffffff) !== 0;
    if (!finite(g) || !finite(w) || ((g ^ w) & 0x80000000) !== 0) return false;
    const gv = got.readFloatLE(i), wv = want.readFloatLE(i);
    if (Math.abs(gv - wv) > 3 * 2 ** -12 * Math.abs(wv)) return false;
  }
  return (got.length & 3) === 0;
}
