#!/usr/bin/env -S node --concurrent-recompilation-queue-length=4096 --interrupt-budget=4096
/**
 * `pcvm-test SCRIPT` (also `pcvm --test SCRIPT`): runs an expect script (docs/expect.md)
 * and prints its TAP report on stdout. Exit status: 0 when every step passed, 1 at the first
 * failing step, 2 when the script cannot be read or is malformed.
 *
 * Started with the same V8 flag as `pcvm` (see src/cli/main.ts).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ExpectScriptError, parseExpectScript } from './expect-script.js';
import { runExpectScript } from './expect-runner.js';

const USAGE = 'usage: pcvm-test SCRIPT.json   (or: pcvm --test SCRIPT.json)\n';

/** Runs the command with `args` (after the program name); resolves with the exit status. */
export async function pcvmTestMain(args: readonly string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  if (args.length !== 1 || args[0] === '-h' || args[0] === '--help') {
    (args.length === 1 ? out : err)(USAGE);
    return args.length === 1 ? 0 : 2;
  }
  const path = args[0]!;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    err(`pcvm-test: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 2;
  }
  let script;
  try {
    script = parseExpectScript(text, path);
  } catch (e) {
    if (e instanceof ExpectScriptError) {
      err(`pcvm-test: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const result = await runExpectScript(script, out);
  return result.ok ? 0 : 1;
}

// Run as a program (not when imported by pcvm --test or tests).
const self = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (self) {
  const status = await pcvmTestMain(process.argv.slice(2), (t) => process.stdout.write(t), (t) => process.stderr.write(t));
  // Let stdout drain before leaving: a pipe must get the whole report.
  process.stdout.write('', () => process.exit(status));
}
