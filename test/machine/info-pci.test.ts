/**
 * The PCI part of the board: HMP `info pci` in QEMU's layout (hw/pci/pci-hmp-cmds.c) with the
 * functions QEMU's `pc` machine shows at 00:00.0, 00:01.0 and 00:01.3 (QEMU's IDE function
 * 00:01.1 is not modelled), the ELCR as SeaBIOS leaves it, and config space through the ports.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { formatInfoPci } from '../../src/monitor/info-pci.js';
import { NULL_LOGGER } from '../../src/machine/log.js';

function machine(): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 }), { serial: [], log: NULL_LOGGER });
}

describe('PCI on the PC board', () => {
  it('info pci lists the host bridge, the ISA bridge and the PM function as QEMU does', () => {
    const m = machine();
    expect(runHmpCommand(m, 'info pci')).toBe([
      '  Bus  0, device   0, function 0:',
      '    Host bridge: PCI device 8086:1237',
      '      PCI subsystem 1af4:1100',
      '      id ""',
      '  Bus  0, device   1, function 0:',
      '    ISA bridge: PCI device 8086:7000',
      '      PCI subsystem 1af4:1100',
      '      id ""',
      '  Bus  0, device   1, function 3:',
      '    Bridge: PCI device 8086:7113',
      '      PCI subsystem 1af4:1100',
      '      IRQ 9, pin A',
      '      id ""',
    ].join('\n'));
  });

  it('formats BARs, unknown classes and user ids', () => {
    const text = formatInfoPci([{
      bus: 0, slot: 3, function: 0, classCode: 0x00ff, vendorId: 0x1af4, deviceId: 0x1000,
      subsystem: { vendorId: 0x1af4, id: 1 }, irq: { line: 11, pin: 1 }, qdevId: 'net0',
      regions: [
        { bar: 0, type: 'io', address: 0xc000, size: 32, mem64: false, prefetch: false },
        { bar: 1, type: 'memory', address: 0xfebd1000, size: 0x1000, mem64: false, prefetch: false },
        { bar: 4, type: 'memory', address: 0xfe000000, size: 0x4000, mem64: true, prefetch: true },
        { bar: 5, type: 'io', address: -1, size: 32, mem64: false, prefetch: false },
      ],
    }]);
    expect(text).toBe([
      '  Bus  0, device   3, function 0:',
      '    Class 00ff: PCI device 1af4:1000',
      '      PCI subsystem 1af4:0001',
      '      IRQ 11, pin A',
      '      BAR0: I/O at 0xc000 [0xc01f].',
      '      BAR1: 32 bit memory at 0xfebd1000 [0xfebd1fff].',
      '      BAR4: 64 bit prefetchable memory at 0xfe000000 [0xfe003fff].',
      '      BAR5: I/O (not mapped)',
      '      id "net0"',
    ].join('\n'));
  });

  it('sets ELCR for IRQ 10 and 11 at power-on and after reset; config space answers on 0xCF8/0xCFC', () => {
    const m = machine();
    expect(m.io.read(0x4d0, 1)).toBe(0x00);
    expect(m.io.read(0x4d1, 1)).toBe(0x0c);
    m.io.write(0x4d1, 1, 0);
    m.reset();
    expect(m.io.read(0x4d1, 1)).toBe(0x0c);
    m.io.write(0xcf8, 4, 0x80000800 | 0x60); // 00:01.0 PIRQRC
    expect(m.io.read(0xcfc, 4)).toBe(0x0b0b0a0a);
    // The PM block answers at 0x600 (PM1_CNT.SCI_EN set).
    expect(m.io.read(0x604, 2) & 1).toBe(1);
    expect(m.io.owner(0xcf9)).toBe('pci-conf-idx');
  });
});
