import { describe, expect, it } from 'vitest';
import { formatRate, formatStatusLine, formatVirtualTime, instructionsPerSecond, type StatusSample } from '../../src/ui/tui/status-line.js';

const sample = (over: Partial<StatusSample> = {}): StatusSample => ({
  state: 'running', accel: 'tcg', instructions: 0, virtualNs: 0, hostMs: 0, ...over,
});

describe('TUI status line', () => {
  it('measures instructions per second between samples', () => {
    expect(instructionsPerSecond(undefined, sample())).toBe(0);
    expect(instructionsPerSecond(sample({ instructions: 1000, hostMs: 100 }), sample({ instructions: 6000, hostMs: 600 }))).toBe(10000);
    expect(instructionsPerSecond(sample({ instructions: 5000 }), sample({ instructions: 10, hostMs: 500 }))).toBe(0); // reset
  });

  it('formats rates and virtual time', () => {
    expect(formatRate(12_345_678)).toBe('12.3 M');
    expect(formatRate(4_567)).toBe('4.6 k');
    expect(formatRate(2.5e9)).toBe('2.50 G');
    expect(formatRate(12)).toBe('12');
    expect(formatVirtualTime(3_723_004_000_000)).toBe('1:02:03.004');
  });

  it('keeps the key bindings visible by dropping detail on narrow terminals', () => {
    const cur = sample({ virtualNs: 1.5e9, state: 'paused' });
    const keys = 'C-a c monitor  C-a x quit';
    expect(formatStatusLine(cur, 2e6, keys, 200)).toBe(' paused | accel tcg | 2.0 M instr/s | vtime 0:00:01.500 | C-a c monitor  C-a x quit');
    for (const width of [90, 70, 50, 40]) {
      const line = formatStatusLine(cur, 2e6, keys, width);
      expect(line.length).toBeLessThanOrEqual(width);
      expect(line).toContain(keys);
      expect(line).toContain('paused');
    }
    expect(formatStatusLine(cur, 0, keys, 10)).toHaveLength(10);
  });
});
