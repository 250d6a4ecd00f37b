/**
 * The HPET as the PC board wires it (QEMU's pc: hw/i386/pc.c pc_basic_device_init): at
 * 0xFED00000 unless `-machine hpet=off`, routes to ISA IRQs and I/O APIC pins, the PIT's and
 * the RTC's interrupts through it so that LegacyReplacement (HPET spec 2.4) takes IRQ 0 and
 * IRQ 8 from them; the ACPI HPET table and DSDT device that tell the OS where it is (HPET
 * spec 3.2.4, QEMU's build_hpet and build_hpet_aml); `info qtree`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type MachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { machineQtree } from '../../src/machine/qtree.js';
import { buildAcpiTables } from '../../src/machine/acpi/install.js';
import * as aml from '../../src/machine/acpi/aml.js';
import { parseCommandLine } from '../../src/cli/options.js';
import { machineFromOptions } from '../../src/cli/machine-from-options.js';

const HPET = 0xfed00000;

function machine(config: Partial<MachineConfig> = {}): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024, clock: { kind: 'icount', shift: 0 }, ...config }), {
    serial: [new MemoryCharBackend()],
    log: NULL_LOGGER,
  });
}

/** Runs the machine's timers up to virtual time `ns` without executing guest code. */
function runTimersTo(m: Machine, ns: number): void {
  for (;;) {
    const next = m.clock.nextDeadlineNs();
    if (next > ns) break;
    m.clock.warpTo(next);
    m.clock.runDueTimers();
  }
  m.clock.warpTo(ns);
  m.clock.runDueTimers();
}

function hasIasl(): boolean {
  try {
    execFileSync('iasl', ['-v'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

describe('PC board: HPET wiring', () => {
  it('is at 0xFED00000 by default and absent with hpet=off', () => {
    const m = machine();
    expect(m.memory.read(HPET, 4)).toBe(0x8086a201);
    expect(m.memory.read(HPET + 4, 4)).toBe(10_000_000);
    expect(m.devices.map((d) => d.id)).toContain('hpet');
    expect(m.memoryMap().memory.find((r) => r.name === 'hpet')).toMatchObject({ base: HPET, size: 0x400 });

    const off = machine({ hpet: false });
    expect(off.hpet).toBeUndefined();
    expect(off.memory.read(HPET, 4)).toBe(0xffffffff);
    expect(off.devices.map((d) => d.id)).not.toContain('hpet');
  });

  it('LegacyReplacement takes IRQ 0 from the PIT and IRQ 8 from the RTC, and gives them back', () => {
    const m = machine();
    // PIT counter 0, mode 2 at 100 Hz; the RTC's update-ended interrupt once a second.
    m.io.write(0x43, 1, 0x34);
    m.io.write(0x40, 1, 0x9c);
    m.io.write(0x40, 1, 0x2e);
    m.io.write(0x70, 1, 0x0b);
    m.io.write(0x71, 1, 0x12);
    runTimersTo(m, 1_000_000_001);
    const counts = () => m.pic.irqCounts();
    const [pit0, rtc0] = [counts()[0]!, counts()[8]!];
    expect(pit0).toBeGreaterThanOrEqual(100);
    expect(rtc0).toBe(1);

    // Legacy mode, with HPET timer 0 periodic at 1 kHz and timer 1 silent.
    m.memory.write(HPET + 0x100, 4, (1 << 2) | (1 << 3) | (1 << 6) | (1 << 8)); // INT_ENB, periodic, VAL_SET, 32-bit
    m.memory.write(HPET + 0x108, 4, 100_000);
    m.memory.write(HPET + 0x010, 4, 0b11);
    runTimersTo(m, 2_000_000_001);
    expect(counts()[0]! - pit0).toBe(1000); // all from the HPET: 1 kHz for one second
    expect(counts()[8]).toBe(rtc0); // the RTC's update interrupt no longer arrives

    // Timer 1 in legacy mode reaches IRQ 8.
    m.memory.write(HPET + 0x120, 4, 1 << 2);
    m.memory.write(HPET + 0x12c, 4, 0);
    m.memory.write(HPET + 0x128, 4, m.memory.read(HPET + 0xf0, 4) + 500);
    runTimersTo(m, 2_000_010_000);
    expect(counts()[8]).toBe(rtc0 + 1);

    // Leaving legacy mode: the PIT's 100 Hz is back on IRQ 0; timer 0 now routes to IRQ 0 by
    // its route field (0), so both arrive there.
    m.memory.write(HPET + 0x100, 4, 0);
    m.memory.write(HPET + 0x010, 4, 0b01);
    const before = counts()[0]!;
    runTimersTo(m, 3_000_010_000);
    expect(counts()[0]! - before).toBeGreaterThanOrEqual(99);
    expect(counts()[0]! - before).toBeLessThanOrEqual(101);
  });

  it('HPET routes above 15 reach I/O APIC pins directly', () => {
    const m = machine();
    // Level-triggered, route 20: the pin's level follows the status bit.
    m.memory.write(HPET + 0x140, 4, (1 << 1) | (1 << 2) | (20 << 9));
    m.memory.write(HPET + 0x148, 4, 10);
    m.memory.write(HPET + 0x14c, 4, 0);
    m.memory.write(HPET + 0x010, 4, 1);
    runTimersTo(m, 1_000);
    expect((m.ioapic.saveState() as { lines: number }).lines & (1 << 20)).not.toBe(0);
    m.memory.write(HPET + 0x020, 4, 1 << 2);
    expect((m.ioapic.saveState() as { lines: number }).lines & (1 << 20)).toBe(0);
  });

  it('info qtree shows it as QEMU 7.2 does on pc', () => {
    const tree = machineQtree(machine());
    const hpet = tree.devices.find((d) => d.type === 'hpet');
    expect(hpet).toMatchObject({
      gpioIn: [['', 2]],
      gpioOut: [['', 1], ['sysbus-irq', 32]],
      props: [['timers', 3], ['msi', false], ['hpet-intcap', 4], ['hpet-offset-saved', true]],
      mmio: [[HPET, 0x400]],
    });
    expect(tree.devices.map((d) => d.type).slice(0, 4)).toEqual(['ps2-mouse', 'ps2-kbd', 'hpet', 'ioapic']);
    expect(machineQtree(machine({ hpet: false })).devices.map((d) => d.type)).not.toContain('hpet');
  });

  it('-machine hpet=off and -no-hpet remove it; it is there by default', () => {
    const configOf = (...argv: string[]) => {
      const setup = machineFromOptions(parseCommandLine(argv), process.stdout);
      setup.close();
      return setup.config;
    };
    expect(configOf().hpet).toBe(true);
    expect(configOf('-machine', 'hpet=on').hpet).toBe(true);
    expect(configOf('-machine', 'pc,hpet=off').hpet).toBe(false);
    expect(configOf('-no-hpet').hpet).toBe(false);
    expect(() => configOf('-machine', 'hpet=maybe')).toThrow();
  });
});

describe('ACPI: HPET table and device', () => {
  const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  const tableAt = (t: ReturnType<typeof buildAcpiTables>, addr: number) => {
    const off = addr - t.tablesBase;
    return t.blob.subarray(off, off + u32(t.blob, off + 4));
  };

  it('the HPET table (56 bytes, HPET spec 3.2.4) is listed in the RSDT and XSDT after the MADT', () => {
    const t = buildAcpiTables(64 * 1024 * 1024, { hpet: true });
    const a = t.addresses;
    expect(a.hpet).toBeDefined();
    const h = tableAt(t, a.hpet!);
    expect(String.fromCharCode(...h.subarray(0, 4))).toBe('HPET');
    expect(h.length).toBe(56);
    expect(h[8]).toBe(1); // revision
    expect(h.reduce((s, x) => (s + x) & 0xff, 0)).toBe(0);
    expect(u32(h, 36)).toBe(0x8086a201); // Event Timer Block ID = GCAP_ID bits 31:0
    expect(Array.from(h.subarray(40, 44))).toEqual([0, 0, 0, 0]); // GAS: system memory
    expect([u32(h, 44), u32(h, 48)]).toEqual([HPET, 0]);
    expect(Array.from(h.subarray(52, 56))).toEqual([0, 0, 0, 0]); // HPET number, min tick, page protection
    const rsdt = tableAt(t, a.rsdt);
    const xsdt = tableAt(t, a.xsdt);
    expect([u32(rsdt, 36), u32(rsdt, 40), u32(rsdt, 44)]).toEqual([a.fadt, a.madt, a.hpet]);
    expect([u32(xsdt, 36), u32(xsdt, 44), u32(xsdt, 52)]).toEqual([a.fadt, a.madt, a.hpet]);
    // Without an HPET there is no table.
    expect(buildAcpiTables(64 * 1024 * 1024).addresses.hpet).toBeUndefined();
  });

  it('Memory32Fixed encodes as 6.4.3.4 lays it out', () => {
    expect(aml.memory32Fixed(false, HPET, 0x400)).toEqual([0x86, 0x09, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x04, 0x00, 0x00]);
    expect(aml.memory32Fixed(true, 0x1000, 0x10)[3]).toBe(1);
  });

  it.skipIf(!hasIasl())('the DSDT declares the HPET (PNP0103) with its window, as iasl disassembles it', () => {
    const t = buildAcpiTables(64 * 1024 * 1024, { hpet: true });
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-hpet-dsdt-'));
    writeFileSync(join(dir, 'dsdt.dat'), tableAt(t, t.addresses.dsdt));
    execFileSync('iasl', ['-d', join(dir, 'dsdt.dat')], { stdio: 'pipe' });
    const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8').replace(/\s+/g, ' ');
    const dev = dsl.slice(dsl.indexOf('Device (HPET)'));
    expect(dev).toMatch(/^Device \(HPET\) \{ Name \(_HID, EisaId \("PNP0103"\)/);
    expect(dev).toContain('Memory32Fixed (ReadOnly, 0xFED00000, // Address Base 0x00000400, // Address Length )');
  });
});
