/**
 * The expect runner (pcvm-test, pcvm --test): scripts that pass, a script that fails with a
 * readable TAP report (the failing step, the reason, the last console lines, Bail out!),
 * malformed scripts, and both command-line entries.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pcvmTestMain } from '../../src/expect/pcvm-test.js';
import { parseExpectScript, ExpectScriptError } from '../../src/expect/expect-script.js';

const SCRIPTS = new URL('./scripts/', import.meta.url).pathname;
const DIST = new URL('../../dist/src/', import.meta.url).pathname;

async function runScript(path: string): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const status = await pcvmTestMain([path], (t) => (out += t), (t) => (err += t));
  return { status, out, err };
}

/** TAP test lines: [ok?, number, description]. */
function points(out: string): [boolean, number, string][] {
  return [...out.matchAll(/^(ok|not ok) (\d+) - (.*?)(?: # time=\d+ms)?$/gm)].map((m) => [m[1] === 'ok', Number(m[2]), m[3]!]);
}

describe('pcvm-test', () => {
  it('passes the demo firmware script: TAP with a plan, one timed point per step, status 0', async () => {
    const r = await runScript(join(SCRIPTS, 'demo-echo.json'));
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^TAP version 13\n# demo firmware echo and exit\n1\.\.9\n/);
    const p = points(r.out);
    expect(p).toHaveLength(9);
    expect(p.every(([ok], i) => ok && p[i]![1] === i + 1)).toBe(true);
    expect(r.out.match(/ # time=\d+ms$/gm)).toHaveLength(9);
    expect(r.out).not.toContain('Bail out!');
  }, 60_000);

  it('passes the multiboot kernel script (monitor checks, cont, exit status)', async () => {
    const r = await runScript(join(SCRIPTS, 'multiboot-kernel.json'));
    expect(r.status).toBe(0);
    expect(points(r.out).map(([ok]) => ok)).toEqual([true, true, true, true, true, true, true]);
  }, 60_000);

  it('fails at the first wrong step with the reason and the console in the report', async () => {
    const r = await runScript(join(SCRIPTS, 'demo-wrong-pattern.json'));
    expect(r.status).toBe(1);
    const p = points(r.out);
    expect(p.map(([ok]) => ok)).toEqual([true, true, true, false]);
    expect(p[3]![2]).toBe('expect "goodbye"');
    expect(r.out).toContain('  message: "/goodbye/ did not appear on the console within 1500 ms"');
    // The console block: the guest's last lines, indented under the diagnostic.
    expect(r.out).toMatch(/  console: \|\n    pcvm demo firmware [^\n]*\n    type 'help' for commands\n    pcvm> echo hello\n    hello\n/);
    expect(r.out).toMatch(/\nBail out! step 4 failed: \/goodbye\/ did not appear/);
    // Nothing ran after the failure.
    expect(r.out).not.toMatch(/^(not )?ok 5/m);
  }, 60_000);

  it('reports a wrong exit status, a failing monitor match and QMP mismatch readably', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-expect-'));
    const write = (name: string, steps: unknown[]) => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify({ machine: { devices: ['isa-debug-exit,iobase=0xf4,iosize=0x04'] }, timeoutMs: 10000, steps }));
      return path;
    };
    let r = await runScript(write('exit.json', [{ expect: 'pcvm> ' }, { sendLine: 'exit 2' }, { exit: 4 }]));
    expect(r.status).toBe(1);
    expect(r.out).toContain('message: "the VM ended with exit status 5, expected 4"');
    r = await runScript(write('monitor.json', [{ monitor: 'info status', match: 'paused' }]));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/message: "the output of 'info status' does not match \\"paused\\""\n  output: \|\n    VM status: running\n/);
    r = await runScript(write('qmp.json', [{ qmp: 'query-status', match: { status: 'paused' } }]));
    expect(r.status).toBe(1);
    expect(r.out).toContain('"status": "running"');
    // Without a disk that takes snapshots savevm cannot succeed (and until the snapshot work
    // lands the monitor does not know it): the monitor's error fails the step.
    r = await runScript(write('savevm.json', [{ savevm: 'x' }, { loadvm: 'x' }]));
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^not ok 2 - savevm x\n  ---\n  message: "savevm x failed: .+"/m);
  }, 60_000);

  it('refuses malformed scripts with status 2 and a message naming the step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-expect-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "steps": [ { "expect": "x", "send": "y" } ] }');
    const r = await runScript(bad);
    expect(r.status).toBe(2);
    expect(r.err).toBe(`pcvm-test: ${bad}: step 1: a step needs exactly one of expect, send, sendLine, monitor, qmp, savevm, loadvm, exit\n`);
    expect(() => parseExpectScript('{"steps":[{"exit":300}]}', 's.json')).toThrow('s.json: step 1: \'exit\' must be an exit status 0-255');
    expect(() => parseExpectScript('{"machine":{"ram":1},"steps":[{"exit":0}]}', 's.json')).toThrow("s.json: machine: unknown option 'ram'");
    expect(() => parseExpectScript('{"machine":{"kernel":"${NOPE_NOT_SET}"},"steps":[{"exit":0}]}', 's.json', {})).toThrow(ExpectScriptError);
    expect(() => parseExpectScript('{"steps":[{"expect":{"regex":"("}}]}', 's.json')).toThrow(/step 1: expect: Invalid regular expression/);
    expect(() => parseExpectScript('not json', 's.json')).toThrow(/s.json: not valid JSON/);
    // ${VAR} and SCRIPT_DIR expand; file options are relative to the script.
    const s = parseExpectScript('// comment\n{"machine":{"kernel":"k/${V}","append":"${SCRIPT_DIR}"},"steps":[{"exit":0}]}', '/a/b/s.json', { V: 'vmlinuz' });
    expect(s.machine.kernel).toBe('/a/b/k/vmlinuz');
    expect(s.machine.append).toBe('/a/b');
    const missing = await runScript(join(dir, 'missing.json'));
    expect(missing.status).toBe(2);
    expect(missing.err).toContain('ENOENT');
  });

  it('runs as `pcvm-test SCRIPT` and `pcvm --test SCRIPT`', () => {
    for (const argv of [[join(DIST, 'expect/pcvm-test.js')], [join(DIST, 'cli/main.js'), '--test']]) {
      const ok = spawnSync(process.execPath, [...argv, join(SCRIPTS, 'demo-echo.json')], { encoding: 'utf8', timeout: 60_000 });
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/^ok 9 - exit status 7 # time=\d+ms$/m);
      const bad = spawnSync(process.execPath, [...argv, join(SCRIPTS, 'demo-wrong-pattern.json')], { encoding: 'utf8', timeout: 60_000 });
      expect(bad.status).toBe(1);
      expect(bad.stdout).toMatch(/^not ok 4 - expect "goodbye"$/m);
      expect(bad.stdout).toMatch(/Bail out!/);
    }
  }, 120_000);
});
