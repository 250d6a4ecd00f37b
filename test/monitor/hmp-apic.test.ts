/**
 * `info lapic` and `info ioapic` reach the interrupt controllers through MachineControl and
 * print QEMU's headers and reset-state lines.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';

function machine(): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 }), { serial: [], log: NULL_LOGGER });
}

describe('HMP info lapic / info ioapic', () => {
  it('info lapic dumps CPU 0 with LINT0 in virtual wire mode after reset', () => {
    const out = runHmpCommand(machine(), 'info lapic').split('\n').map((l) => l.trimEnd());
    expect(out[0]).toBe('dumping local APIC state for CPU 0');
    expect(out[2]).toBe('LVT0\t 0x00000700 active-hi edge                              ExtINT (vec 0)');
    expect(out).toContain('SPIV\t 0x000000ff APIC disabled, focus=off, spurious vec 255');
    expect(out).toContain('ISR\t (none)');
    expect(out[out.length - 1]).toBe('APR 0x00 TPR 0x00 DFR 0x0f LDR 0x00 PPR 0x00');
  });

  it('info ioapic lists the 24 masked pins', () => {
    const out = runHmpCommand(machine(), 'info ioapic').split('\n');
    expect(out[0]).toBe('ioapic0: ver=0x20 id=0x00 sel=0x00');
    expect(out.filter((l) => l.startsWith('  pin ')).length).toBe(24);
    expect(out[24]).toBe('  pin 23 0x0000000000010000 dest=0 vec=0   active-hi edge  masked fixed  physical');
    expect(out.slice(25)).toEqual(['  IRR      (none)', '  Remote IRR (none)']);
  });

  it('both are listed by info', () => {
    const out = runHmpCommand(machine(), 'info');
    expect(out).toContain('info lapic  -- show local apic state');
    expect(out).toContain('info ioapic  -- show io apic state');
  });
});
