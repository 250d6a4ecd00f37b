/**
 * RAM in the machine-state stream: zero pages are left out of the stream, and a load makes
 * every page what the stream says — including pages the loading machine had written that were
 * zero when the state was saved.
 */
import { describe, expect, it } from 'vitest';
import { loadVmState, saveVmState } from '../../src/snapshot/machine-state.js';
import { decodeVmState, RAM_PAGE_BYTES } from '../../src/snapshot/vmstate-stream.js';
import { ticksMachine } from './ticks-guest.js';

describe('RAM in the machine-state stream', () => {
  it('holds only the non-zero pages, and a load zeroes pages that were zero at the save', () => {
    const src = ticksMachine();
    const ram = src.m.memory.ram;
    ram.fill(0);
    ram[5 * RAM_PAGE_BYTES + 7] = 0xaa;
    ram.fill(0x55, 9 * RAM_PAGE_BYTES, 11 * RAM_PAGE_BYTES);
    ram[ram.length - 1] = 1;
    const stream = saveVmState(src.m);
    const d = decodeVmState(stream, 1 << 30);
    expect(d.ramRuns.map((r) => [r.firstPage, r.bytes.length / RAM_PAGE_BYTES])).toEqual([[5, 1], [9, 2], [ram.length / RAM_PAGE_BYTES - 1, 1]]);

    const dst = ticksMachine();
    const dram = dst.m.memory.ram;
    dram.fill(0x77, 0, 16 * RAM_PAGE_BYTES);
    dram[12345 * 4] = 9;
    loadVmState(dst.m, stream);
    expect(Buffer.compare(dram, ram)).toBe(0);
  });
});
