/**
 * Runs an expect script (expect-script.ts) on a library Machine and writes a TAP 13 report:
 * one test point per step (the machine's start is point 1), each with its time, and at the
 * first failure a YAML diagnostic block — what was expected, what happened, and the last 50
 * lines of the console — then `Bail out!`. The VM is closed in every case.
 */
import { isDeepStrictEqual } from 'node:util';
import { Machine, SerialTimeoutError } from '../library/machine.js';
import { describePattern, patternRegExp, type ExpectScript, type ExpectStep } from './expect-script.js';

export { parseExpectScript, type ExpectScript } from './expect-script.js';

export interface ExpectResult {
  ok: boolean;
  /** 1-based test point that failed (1 = starting the machine). */
  failedPoint?: number;
  /** The VM's exit status if it ended during the run. */
  exitStatus?: number;
}

/** Lines of console shown with a failure. */
const CONSOLE_LINES = 50;

class StepFailure extends Error {
  constructor(message: string, readonly details: Record<string, string> = {}) {
    super(message);
  }
}

export async function runExpectScript(script: ExpectScript, write: (text: string) => void): Promise<ExpectResult> {
  const points = script.steps.length + 1;
  write('TAP version 13\n');
  if (script.name) write(`# ${script.name}\n`);
  write(`1..${points}\n`);
  let machine: Machine | undefined;
  let exitStatus: number | undefined;
  const started = performance.now();
  let point = 1;
  try {
    let t0 = performance.now();
    try {
      machine = new Machine({ ...script.machine, log: (line) => write(`# log: ${line}\n`) });
      void machine.exitStatus.then((s) => (exitStatus = s));
      await machine.start();
    } catch (e) {
      throw new StepFailure(`the machine could not start: ${(e as Error).message}`);
    }
    write(`ok 1 - start the machine${timing(t0)}\n`);
    for (const step of script.steps) {
      point++;
      t0 = performance.now();
      const what = step.name ?? describeStep(step);
      await runStep(machine, step, script.timeoutMs);
      write(`ok ${point} - ${what}${timing(t0)}\n`);
    }
    write(`# passed ${points} of ${points} in ${((performance.now() - started) / 1000).toFixed(2)} s\n`);
    return { ok: true, ...(exitStatus !== undefined ? { exitStatus } : {}) };
  } catch (e) {
    const failure = e instanceof StepFailure ? e : new StepFailure(`internal error: ${(e as Error).stack ?? String(e)}`);
    const step = point >= 2 ? script.steps[point - 2] : undefined;
    const what = point === 1 ? 'start the machine' : step!.name ?? describeStep(step!);
    write(`not ok ${point} - ${what}\n`);
    write('  ---\n');
    write(`  message: ${yamlString(failure.message)}\n`);
    for (const [k, v] of Object.entries(failure.details)) write(`  ${k}:${yamlBlock(v)}`);
    const lines = machine ? machine.console.lastLines(CONSOLE_LINES) : [];
    write(`  console:${yamlBlock(lines.length ? lines.join('\n') : '(nothing on the console)')}`);
    write('  ...\n');
    write(`Bail out! step ${point} failed: ${failure.message.split('\n')[0]}\n`);
    return { ok: false, failedPoint: point, ...(exitStatus !== undefined ? { exitStatus } : {}) };
  } finally {
    await machine?.close();
  }
}

async function runStep(m: Machine, step: ExpectStep, defaultTimeoutMs: number): Promise<void> {
  switch (step.kind) {
    case 'expect':
      try {
        await m.waitForSerial(patternRegExp(step.pattern), { timeoutMs: step.timeoutMs ?? defaultTimeoutMs });
      } catch (e) {
        if (e instanceof SerialTimeoutError) throw new StepFailure(e.message);
        throw e;
      }
      return;
    case 'send':
      m.writeSerial(step.text);
      return;
    case 'monitor': {
      const out = await m.monitor(step.command);
      if (step.match !== undefined && !patternRegExp(step.match).test(out)) {
        throw new StepFailure(`the output of '${step.command}' does not match ${describePattern(step.match)}`, { output: out });
      }
      return;
    }
    case 'qmp': {
      let ret: unknown;
      try {
        ret = await m.qmp(step.command, step.args);
      } catch (e) {
        throw new StepFailure(`QMP ${step.command} failed: ${(e as Error).message}`);
      }
      if (step.match !== undefined && !containsDeep(ret, step.match)) {
        throw new StepFailure(`the return value of ${step.command} does not contain the expected value`, {
          expected: JSON.stringify(step.match, null, 2),
          returned: JSON.stringify(ret, null, 2),
        });
      }
      return;
    }
    case 'savevm':
    case 'loadvm': {
      const out = await m.monitor(`${step.kind} ${step.tag}`);
      if (out.trim() !== '') throw new StepFailure(`${step.kind} ${step.tag} failed: ${out.trim()}`);
      return;
    }
    case 'exit': {
      const timeoutMs = step.timeoutMs ?? defaultTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const status = await Promise.race([
        m.exitStatus,
        new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (status === undefined) throw new StepFailure(`the VM did not end within ${timeoutMs} ms (state: ${m.runState})`);
      if (status !== step.status) throw new StepFailure(`the VM ended with exit status ${status}, expected ${step.status}`);
      return;
    }
  }
}

/** Whether `actual` contains `expected`: equal scalars, objects with at least its keys. */
function containsDeep(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null) return isDeepStrictEqual(actual, expected);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => containsDeep(actual[i], e));
  }
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
  return Object.entries(expected).every(([k, v]) => containsDeep((actual as Record<string, unknown>)[k], v));
}

function describeStep(step: ExpectStep): string {
  switch (step.kind) {
    case 'expect': return `expect ${describePattern(step.pattern)}`;
    case 'send': return `send ${JSON.stringify(step.text)}`;
    case 'monitor': return `monitor ${JSON.stringify(step.command)}${step.match !== undefined ? ` matches ${describePattern(step.match)}` : ''}`;
    case 'qmp': return `qmp ${step.command}`;
    case 'savevm': case 'loadvm': return `${step.kind} ${step.tag}`;
    case 'exit': return `exit status ${step.status}`;
  }
}

function timing(t0: number): string {
  return ` # time=${Math.round(performance.now() - t0)}ms`;
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

/** A YAML literal block (` |`) indented under a diagnostic key. */
function yamlBlock(text: string): string {
  return ' |\n' + text.split('\n').map((l) => `    ${l}`).join('\n') + '\n';
}
