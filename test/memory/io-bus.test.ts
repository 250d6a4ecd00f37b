import { describe, expect, it } from 'vitest';
import { IoPortBus, type AccessSize, type PortHandler } from '../../src/memory/io-bus.js';
import { WiringError } from '../../src/errors.js';

/** A device that records accesses and answers reads with offset-derived bytes. */
class Recorder implements PortHandler {
  log: string[] = [];
  ioRead(offset: number, size: AccessSize): number {
    this.log.push(`r${size}@${offset}`);
    return size === 1 ? 0x10 + offset : size === 2 ? 0x2000 + offset : 0x40000000 + offset;
  }
  ioWrite(offset: number, size: AccessSize, value: number): void {
    this.log.push(`w${size}@${offset}=${value.toString(16)}`);
  }
}

describe('IoPortBus', () => {
  it('dispatches to the device with offsets relative to its base', () => {
    const bus = new IoPortBus();
    const dev = new Recorder();
    bus.map('dev', 0x3f8, 8, dev);
    expect(bus.read(0x3fd, 1)).toBe(0x15);
    bus.write(0x3f8, 1, 0x41);
    expect(dev.log).toEqual(['r1@5', 'w1@0=41']);
  });

  it('reads unmapped ports as all ones and ignores writes to them', () => {
    const bus = new IoPortBus();
    const seen: number[] = [];
    bus.onUnmapped = (port) => seen.push(port);
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1234, 4)).toBe(0xffffffff);
    bus.write(0x1234, 1, 5);
    expect(seen.length).toBeGreaterThan(0);
  });

  it('splits wide accesses into little-endian byte accesses for byte-only devices', () => {
    const bus = new IoPortBus();
    const dev = new Recorder();
    bus.map('dev', 0x100, 4, dev);
    expect(bus.read(0x100, 2)).toBe(0x1110);
    bus.write(0x102, 2, 0xbbaa);
    expect(dev.log).toEqual(['r1@0', 'r1@1', 'w1@2=aa', 'w1@3=bb']);
  });

  it('passes wide accesses whole to devices that accept the width', () => {
    const bus = new IoPortBus();
    const dev = new Recorder();
    bus.map('dev', 0x100, 8, dev, { widths: [1, 2, 4] });
    expect(bus.read(0x104, 4)).toBe(0x40000004);
    bus.write(0x100, 2, 0x1234);
    expect(dev.log).toEqual(['r4@4', 'w2@0=1234']);
  });

  it('masks written values to the access width', () => {
    const bus = new IoPortBus();
    const dev = new Recorder();
    bus.map('dev', 0x80, 1, dev);
    bus.write(0x80, 1, 0x1ff);
    expect(dev.log).toEqual(['w1@0=ff']);
  });

  it('a wide access straddling two devices reaches each with its own bytes', () => {
    const bus = new IoPortBus();
    const a = new Recorder();
    const b = new Recorder();
    bus.map('a', 0x10, 1, a);
    bus.map('b', 0x11, 1, b);
    expect(bus.read(0x10, 2)).toBe((0x10 << 8) | 0x10);
    expect(a.log).toEqual(['r1@0']);
    expect(b.log).toEqual(['r1@0']);
  });

  it('rejects overlapping mappings and ranges outside the port space as wiring errors', () => {
    const bus = new IoPortBus();
    bus.map('a', 0x60, 1, new Recorder());
    expect(() => bus.map('b', 0x5f, 2, new Recorder())).toThrow(WiringError);
    expect(() => bus.map('c', 0xffff, 2, new Recorder())).toThrow(WiringError);
    expect(() => bus.map('d', 0x10, 0, new Recorder())).toThrow(WiringError);
  });

  it('unmap frees the ports for a new mapping', () => {
    const bus = new IoPortBus();
    bus.map('a', 0x60, 4, new Recorder());
    bus.unmap('a');
    expect(bus.read(0x61, 1)).toBe(0xff);
    bus.map('b', 0x60, 4, new Recorder());
    expect(bus.owner(0x62)).toBe('b');
  });
});
