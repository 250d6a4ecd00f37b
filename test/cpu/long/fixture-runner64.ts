/**
 * Replays the 64-bit host-CPU fixtures (test/cpu/fixtures/*64.json, made by
 * scripts/gen-cpu-fixtures64.mjs) on the interpreter in 64-bit mode, one vitest case per
 * instruction form. As in ../fixture-runner.ts: input registers are loaded (the others hold
 * the fixture's sentinels and must come back unchanged), the data window is filled, the
 * snippet runs to the appended HLT, and registers, the window, the instruction length and the
 * flags the SDM defines must match the host; a "#DE" case must fault with nothing changed.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { CODE_ADDR, DATA_ADDR, LongModeHarness, REG64_NAMES, hex64, type Reg64Name } from '../../helpers/cpu-harness64.js';
import { flagNames } from '../../helpers/cpu-harness.js';

const OBSERVED = 0xcd5;
const MAX_REPORTED = 8;
const FAULT_VECTORS: Record<string, number> = { '#DE': 0, '#UD': 6 };

type Extra = { m?: number; u?: Reg64Name[]; mi?: string; mo?: string };
type Row = (number | string | Extra)[];

interface Snippet {
  asm: string;
  code: string;
  in: Reg64Name[];
  out: Reg64Name[];
  mask: number;
  mem?: number;
  cases: Row[];
}

interface Fixture {
  host: string;
  hostMode: string;
  codeAddr: number;
  dataAddr: number;
  sentinels: string[];
  snippets: Snippet[];
}

const big = (h: string) => BigInt('0x' + h);

/** `jit`: run every snippet as translated code (the JIT with threshold 0). */
export function describeFixture64(group: string, title: string, options: { jit?: boolean } = {}): void {
  const fx = JSON.parse(readFileSync(new URL(`../fixtures/${group}.json`, import.meta.url), 'utf8')) as Fixture;
  if (fx.codeAddr !== CODE_ADDR || fx.dataAddr !== DATA_ADDR) throw new Error(`${group}.json was made for other addresses`);
  const h = LongModeHarness.flat64({ jit: options.jit });
  describe(`${title} (host: ${fx.host}, ${fx.hostMode})`, () => {
    for (const snip of fx.snippets) {
      const code = Buffer.from(snip.code, 'hex');
      it(`${snip.asm}  [${snip.code}]  ${snip.cases.length} cases`, () => {
        const failures: string[] = [];
        for (const row of snip.cases) {
          const msg = checkCase(h, fx, snip, code, row);
          if (msg && failures.length < MAX_REPORTED) failures.push(msg);
          else if (msg) failures.push('');
        }
        if (failures.length) {
          throw new Error(`${snip.asm}: ${failures.length} of ${snip.cases.length} cases differ from the host CPU\n\n${failures.filter(Boolean).join('\n\n')}`);
        }
      });
    }
  });
}

function checkCase(h: LongModeHarness, fx: Fixture, snip: Snippet, code: Uint8Array, row: Row): string | undefined {
  const nIn = snip.in.length;
  const flagsIn = row[0] as number;
  const regsIn = {} as Record<Reg64Name, bigint>;
  REG64_NAMES.forEach((r, i) => { regsIn[r] = big(fx.sentinels[i]!); });
  snip.in.forEach((r, i) => { regsIn[r] = big(row[1 + i] as string); });
  const last = row[row.length - 1];
  const extra: Extra = typeof last === 'object' ? (last as Extra) : {};
  const fault = typeof row[1 + nIn] === 'string' && (row[1 + nIn] as string).startsWith('#') ? (row[1 + nIn] as string) : undefined;
  const memIn = snip.mem ? (extra.mi ? Buffer.from(extra.mi, 'hex') : new Uint8Array(snip.mem)) : undefined;
  const regs: Partial<Record<Reg64Name, bigint>> = { ...regsIn };
  delete regs.rsp;
  h.mem.ram.fill(0, DATA_ADDR, DATA_ADDR + 0x10000);
  const res = h.run({ code, regs, rflags: flagsIn, mem: memIn ? [{ addr: DATA_ADDR, bytes: memIn }] : [], budget: 10000 });
  const inputs = snip.in.map((r) => `${r}=${hex64(regsIn[r])}`).join(' ');
  const head = `${snip.asm}\n  in: ${inputs} flags=${flagNames(flagsIn)}`;
  const problems: string[] = [];
  if (res.exit !== 'halt') problems.push(`did not reach HLT (${res.exit})`);
  if (fault) {
    const v = FAULT_VECTORS[fault];
    if (res.exception?.vector !== v) problems.push(`expected ${fault}, got ${res.exception ? `vector ${res.exception.vector}` : 'no exception'}`);
    else if (res.exception.rip !== BigInt(CODE_ADDR)) problems.push(`${fault} pushed RIP ${hex64(res.exception.rip)}`);
    for (const r of REG64_NAMES) if (r !== 'rsp' && res.regs[r] !== regsIn[r]) problems.push(`${r} changed by a faulting instruction`);
    return problems.length ? `${head}\n  ${problems.join('; ')}` : undefined;
  }
  if (res.exception) problems.push(`exception vector ${res.exception.vector} at ${hex64(res.exception.rip)}`);
  else if (res.rip !== BigInt(CODE_ADDR + code.length + 1)) problems.push(`RIP ${hex64(res.rip)} after HLT: wrong instruction length`);
  const flagsOut = row[1 + nIn] as number;
  const undef = new Set(extra.u ?? []);
  for (const r of REG64_NAMES) {
    if (r === 'rsp' || undef.has(r)) continue;
    const oi = snip.out.indexOf(r);
    const want = oi >= 0 ? big(row[2 + nIn + oi] as string) : regsIn[r];
    if (res.regs[r] !== want) problems.push(`${r}: host ${hex64(want)}, ours ${hex64(res.regs[r])}`);
  }
  const mask = (extra.m ?? snip.mask) & OBSERVED;
  if ((res.rflags ^ flagsOut) & mask) problems.push(`flags (${flagNames(mask)}): host ${flagNames(flagsOut & mask)}, ours ${flagNames(res.rflags & mask)}`);
  if (snip.mem) {
    const got = Buffer.from(h.mem.ram.subarray(DATA_ADDR, DATA_ADDR + snip.mem)).toString('hex');
    if (got !== extra.mo) problems.push(`memory: host ${extra.mo}, ours ${got}`);
  }
  return problems.length ? `${head}\n  ${problems.join('\n  ')}` : undefined;
}
