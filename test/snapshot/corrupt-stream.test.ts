/**
 * A truncated, corrupt or mismatched machine-state stream is refused with a SnapshotError that
 * says what is wrong, and the machine it was loaded into is left exactly as it was — even when
 * the bad field is in the last device, after the CPU and earlier devices had accepted theirs.
 */
import { deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/errors.js';
import { loadVmState, saveVmState } from '../../src/snapshot/machine-state.js';
import { VMSTATE_HEADER_BYTES } from '../../src/snapshot/vmstate-stream.js';
import { runToExit, runUntil, ticksMachine, type TicksMachine } from './ticks-guest.js';
import { component, editStream, streamBody } from './stream-mutation.js';

/** A state saved at 40% of the ticks kernel's run, and the whole run's output. */
let saved: Uint8Array;
let referenceText: string;
let referenceRetired: number;

beforeAll(() => {
  const ref = ticksMachine();
  runToExit(ref.m);
  referenceText = ref.serial.text();
  referenceRetired = ref.m.cpu.retired;
  const src = ticksMachine();
  runUntil(src.m, Math.floor(referenceRetired * 0.4));
  saved = saveVmState(src.m);
});

/** A machine paused at 20% of the run: the VM a bad stream must not disturb. */
function target(): TicksMachine & { before: Uint8Array } {
  const t = ticksMachine();
  runUntil(t.m, Math.floor(referenceRetired * 0.2));
  return { ...t, before: saveVmState(t.m) };
}

/** One target for the cases that only compare state (each checks it is still unchanged). */
let shared: ReturnType<typeof target> | undefined;

/** `runOn`: on a target of its own, also run to the end and compare with the uninterrupted run. */
function expectRefusedAndUnchanged(stream: Uint8Array, message: RegExp, runOn = false): void {
  const t = runOn ? target() : (shared ??= target());
  let error: unknown;
  try {
    loadVmState(t.m, stream);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SnapshotError);
  expect((error as Error).message).toMatch(message);
  expect(Buffer.compare(saveVmState(t.m), t.before)).toBe(0);
  if (!runOn) return;
  expect(runToExit(t.m)).toBe(33);
  expect(t.serial.text()).toBe(referenceText);
  expect(t.m.cpu.retired).toBe(referenceRetired);
}

describe('loading a bad machine-state stream', () => {
  it('a good stream loads (the baseline for the cases below)', () => {
    const t = target();
    loadVmState(t.m, saved);
    expect(Buffer.compare(saveVmState(t.m), saved)).toBe(0);
  });

  it('truncated anywhere: refused as truncated or corrupt', () => {
    for (const len of [0, 7, 15, VMSTATE_HEADER_BYTES, VMSTATE_HEADER_BYTES + 10, Math.floor(saved.length / 2), saved.length - 1]) {
      expectRefusedAndUnchanged(saved.subarray(0, len), /truncated|corrupt/);
    }
  });

  it('a body cut short but compressed correctly: refused with the byte position', () => {
    const body = streamBody(saved);
    const cut = body.subarray(0, body.length - 5000);
    const packed = deflateSync(cut);
    const s = new Uint8Array(VMSTATE_HEADER_BYTES + packed.length);
    s.set(saved.subarray(0, VMSTATE_HEADER_BYTES));
    new DataView(s.buffer).setUint32(12, cut.length);
    s.set(packed, VMSTATE_HEADER_BYTES);
    expectRefusedAndUnchanged(s, /truncated stream \(RAM pages/);
  });

  it('bad magic, an unknown format version, a body larger than RAM allows', () => {
    const magic = saved.slice();
    magic[0] = 0x58;
    expectRefusedAndUnchanged(magic, /bad magic/);
    const version = saved.slice();
    new DataView(version.buffer).setUint32(8, 99);
    expectRefusedAndUnchanged(version, /format version 99 is not supported/);
    const huge = saved.slice();
    new DataView(huge.buffer).setUint32(12, 0xfffffff0);
    expectRefusedAndUnchanged(huge, /larger than this machine's state can be/);
  });

  it('an out-of-range field in a late device, after the CPU, PIC, APICs, PIT and RTC had loaded', () => {
    const s = editStream(saved, (e) => {
      const ids = e.components.map((c) => c.id);
      for (const early of ['cpu', 'pic', 'apic', 'ioapic', 'serial0', 'pit', 'rtc', 'pci']) expect(ids.indexOf(early)).toBeLessThan(ids.indexOf('ioport80'));
      component(e, 'ioport80')['lastCode'] = 0x1ff;
    });
    expectRefusedAndUnchanged(s, /ioport80\.lastCode/, true);
  });

  it('out-of-range CPU, PIT, LAPIC and RTC fields name the field', () => {
    expectRefusedAndUnchanged(editStream(saved, (e) => (component(e, 'cpu')['eip'] = -1)), /cpu\.eip/);
    expectRefusedAndUnchanged(editStream(saved, (e) => ((component(e, 'pit')['counters'] as Record<string, unknown>[])[0]!['rw'] = 9)), /pit\.counters\[0\]/);
    expectRefusedAndUnchanged(editStream(saved, (e) => (component(e, 'apic')['timerDueInNs'] = 'soon')), /apic\.timerDueInNs/);
    expectRefusedAndUnchanged(editStream(saved, (e) => (component(e, 'rtc')['index'] = 128)), /rtc\.index/);
  });

  it('a state version the device does not know', () => {
    expectRefusedAndUnchanged(editStream(saved, (e) => (e.components.find((c) => c.id === 'serial0')!.version = 7)), /serial0: state version 7/);
  });

  it('a device missing from the stream, or one this machine does not have', () => {
    expectRefusedAndUnchanged(editStream(saved, (e) => (e.components = e.components.filter((c) => c.id !== 'rtc'))), /no state for 'rtc'/);
    expectRefusedAndUnchanged(editStream(saved, (e) => e.components.push({ id: 'virtio-blk0', version: 1, data: {} })), /'virtio-blk0', which this machine does not have/);
  });

  it('a stream of another RAM size or CPU model, or with a bad board field', () => {
    expectRefusedAndUnchanged(editStream(saved, (e) => (e.ram = new Uint8Array(32 * 1024 * 1024))), /32 MiB of RAM, this one has 16 MiB/);
    expectRefusedAndUnchanged(editStream(saved, (e) => (e.machine['cpuModel'] = 'qemu64')), /'qemu64' CPU/);
    expectRefusedAndUnchanged(editStream(saved, (e) => (e.machine['clockNs'] = -5)), /clockNs/);
    expectRefusedAndUnchanged(editStream(saved, (e) => (e.machine['pending'] = 'explode')), /pending/);
  });

  it('a RAM run outside RAM or out of order', () => {
    const body = streamBody(saved);
    // Find the RAM section's first run header: the page count is 4096 (16 MiB) right after kind 3.
    let at = -1;
    for (let i = 0; i + 5 < body.length; i++) {
      if (body[i] === 3 && body[i + 1] === 0 && body[i + 2] === 0 && body[i + 3] === 0x10 && body[i + 4] === 0) { at = i + 5; break; }
    }
    expect(at).toBeGreaterThan(0);
    const bad = body.slice();
    new DataView(bad.buffer).setUint32(at, 4095); // first run now starts at the last page
    const packed = deflateSync(bad);
    const s = new Uint8Array(VMSTATE_HEADER_BYTES + packed.length);
    s.set(saved.subarray(0, VMSTATE_HEADER_BYTES));
    s.set(packed, VMSTATE_HEADER_BYTES);
    expectRefusedAndUnchanged(s, /outside the 4096 pages of RAM/);
  });
});
