import { describe, expect, it } from 'vitest';
import { RecordingIrqLine, WiredIrqLine, type IrqSink } from '../../src/machine/irq.js';

describe('IRQ lines', () => {
  it('a wired line drives the same pin on every sink (PIC and IOAPIC on a PC)', () => {
    const seen: string[] = [];
    const sink = (name: string): IrqSink => ({ setIrq: (pin, level) => seen.push(`${name}:${pin}=${level ? 1 : 0}`) });
    const line = new WiredIrqLine([sink('pic'), sink('ioapic')], 4);
    line.set(true);
    expect(line.isHigh).toBe(true);
    line.set(false);
    expect(seen).toEqual(['pic:4=1', 'ioapic:4=1', 'pic:4=0', 'ioapic:4=0']);
  });

  it('a recording line counts rising edges, not repeated levels', () => {
    const line = new RecordingIrqLine();
    line.set(true);
    line.set(true);
    line.set(false);
    line.set(true);
    expect(line.rises).toBe(2);
    expect(line.level).toBe(true);
  });
});
