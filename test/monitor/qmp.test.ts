/**
 * QMP sessions behave as QEMU's (docs/interop/qmp-spec.rst): greeting, capabilities
 * negotiation, command replies with ids, errors with QEMU's classes and wording, events, and
 * limits on hostile input.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { QmpSession } from '../../src/monitor/qmp.js';

let machine: Machine;

function session(startStopped = true) {
  machine = new Machine(defaultMachineConfig({ startStopped, name: 'vm1' }), { serial: [new MemoryCharBackend()], log: NULL_LOGGER });
  const out: string[] = [];
  const s = new QmpSession(machine, (t) => out.push(t));
  s.start();
  const take = () => out.splice(0).map((t) => {
    expect(t.endsWith('\r\n')).toBe(true);
    return JSON.parse(t) as Record<string, unknown>;
  });
  return { s, take };
}

afterEach(() => machine?.close());

describe('QMP', () => {
  it('greets with the version and an empty capability list, CRLF-terminated', () => {
    const { take } = session();
    const [greeting] = take();
    expect(greeting).toEqual({ QMP: { version: { qemu: { micro: 0, minor: 2, major: 8 }, package: expect.stringMatching(/^pcvm /) }, capabilities: [] } });
  });

  it('refuses commands before qmp_capabilities, then runs them and echoes ids', () => {
    const { s, take } = session();
    take();
    s.receive('{"execute": "query-status", "id": 1}\n');
    expect(take()).toEqual([{ error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" }, id: 1 }]);
    s.receive('{"execute": "qmp_capabilities"}');
    expect(take()).toEqual([{ return: {} }]);
    s.receive('{"execute": "qmp_capabilities"}');
    expect(take()).toEqual([{ error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' } }]);
    s.receive('{"execute": "query-status", "id": {"tag": "x"}}');
    expect(take()).toEqual([{ return: { running: false, status: 'prelaunch' }, id: { tag: 'x' } }]);
    s.receive('{"execute": "query-name"}');
    expect(take()).toEqual([{ return: { name: 'vm1' } }]);
  });

  it('answers malformed requests with QEMU\'s GenericError wording', () => {
    const { s, take } = session();
    take();
    s.receive('{"execute": "qmp_capabilities"}');
    take();
    s.receive('[1, 2]\n');
    s.receive('{"arguments": {}}\n');
    s.receive('{"execute": 42}\n');
    s.receive('{"execute": "stop", "arguments": []}\n');
    s.receive('{"execute": "stop", "bogus": 1}\n');
    s.receive('{"execute": "frobnicate"}\n');
    s.receive('{"execute": "human-monitor-command"}\n');
    s.receive('{"execute": "human-monitor-command", "arguments": {"command-line": 5}}\n');
    s.receive('{"execute": "stop", "arguments": {"now": true}}\n');
    s.receive('{"execute": "stop", \n');
    s.receive('}garbage\n');
    const replies = take().map((r) => (r['error'] as { desc: string }).desc);
    expect(replies).toEqual([
      'QMP input must be a JSON object',
      "QMP input lacks member 'execute'",
      "QMP input member 'execute' must be a string",
      "QMP input member 'arguments' must be an object",
      "QMP input member 'bogus' is unexpected",
      'The command frobnicate has not been found',
      "Parameter 'command-line' is missing",
      "Invalid parameter type for 'command-line', expected: string",
      "Parameter 'now' is unexpected",
      expect.stringMatching(/^JSON parse error, /),
      expect.stringMatching(/^JSON parse error, /),
    ]);
  });

  it('splits values across and within chunks', () => {
    const { s, take } = session();
    take();
    s.receive('{"execute": "qmp_capa');
    s.receive('bilities"}{"execute": "query-version", "id": "a"}{"execute":"query-cpus-fast"}');
    const r = take();
    expect(r[0]).toEqual({ return: {} });
    expect(r[1]).toMatchObject({ return: { qemu: { major: 8 } }, id: 'a' });
    expect(r[2]).toMatchObject({ return: [{ 'cpu-index': 0, 'thread-id': process.pid }] });
  });

  it('drops over-deep and over-long values with an error and keeps serving', () => {
    const { s, take } = session();
    take();
    s.receive(`${'['.repeat(100)}${']'.repeat(100)}\n`);
    s.receive(`{"execute": "${'x'.repeat(2 << 20)}"}\n`);
    s.receive('{"execute": "qmp_capabilities"}');
    const r = take();
    expect(r.map((x) => (x['error'] as { desc?: string } | undefined)?.desc ?? 'ok')).toEqual([
      'JSON parse error, JSON nesting depth limit exceeded',
      'JSON parse error, JSON token size limit exceeded',
      'ok',
    ]);
  });

  it('sends STOP, RESUME, RESET and POWERDOWN events with timestamps after negotiation only', () => {
    const { s, take } = session(false);
    take();
    machine.start();
    machine.stop();
    expect(take()).toEqual([]);
    s.receive('{"execute": "qmp_capabilities"}');
    take();
    s.receive('{"execute": "cont"}');
    s.receive('{"execute": "stop"}');
    s.receive('{"execute": "system_reset"}');
    s.receive('{"execute": "system_powerdown"}');
    const r = take();
    const events = r.filter((x) => 'event' in x);
    expect(events.map((e) => e['event'])).toEqual(['RESUME', 'STOP', 'RESET', 'POWERDOWN']);
    expect(events[2]!['data']).toEqual({ guest: false, reason: 'host-qmp-system-reset' });
    for (const e of events) {
      expect(Object.keys(e)[0]).toBe('timestamp');
      const ts = e['timestamp'] as { seconds: number; microseconds: number };
      expect(Math.abs(ts.seconds - Date.now() / 1000)).toBeLessThan(5);
      expect(ts.microseconds).toBeGreaterThanOrEqual(0);
      expect(ts.microseconds).toBeLessThan(1_000_000);
    }
  });

  it('runs HMP through human-monitor-command with CRLF line ends', () => {
    const { s, take } = session();
    take();
    s.receive('{"execute": "qmp_capabilities"}{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}');
    s.receive('{"execute": "human-monitor-command", "arguments": {"command-line": "stop"}}');
    const r = take();
    expect(r[1]).toEqual({ return: 'VM status: paused (prelaunch)\r\n' });
    expect(r[2]).toEqual({ return: '' });
  });

  it('quit answers, then sends SHUTDOWN (host-qmp-quit) and ends the VM with status 0', async () => {
    const { s, take } = session();
    take();
    s.receive('{"execute": "qmp_capabilities"}{"execute": "quit"}');
    expect(await machine.waitForExit()).toBe(0);
    const r = take();
    expect(r[1]).toEqual({ return: {} });
    expect(r[2]).toMatchObject({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
  });
});
