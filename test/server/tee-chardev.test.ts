/**
 * TeeCharBackend: COM1's output reaches its own back end and every tap; input from the
 * primary back end and from the tee both reach the front end under its flow control.
 */
import { describe, expect, it } from 'vitest';
import { MemoryCharBackend, type CharFrontend } from '../../src/chardev/chardev.js';
import { TeeCharBackend } from '../../src/chardev/tee.js';

/** A front end with a FIFO of `size` bytes that the test drains by hand. */
class Fifo implements CharFrontend {
  readonly got: number[] = [];
  fill = 0;
  constructor(private readonly size: number) {}
  canReceive(): number {
    return this.size - this.fill;
  }
  receive(data: Uint8Array): void {
    if (data.length > this.canReceive()) throw new Error('overrun');
    this.got.push(...data);
    this.fill += data.length;
  }
}

describe('TeeCharBackend', () => {
  it('copies output to the primary back end and to each tap until removed', () => {
    const primary = new MemoryCharBackend();
    const tee = new TeeCharBackend(primary);
    const a: number[] = [];
    const b: number[] = [];
    const offA = tee.addTap((d) => a.push(...d));
    tee.addTap((d) => b.push(...d));
    tee.write(Uint8Array.of(0x68, 0x69));
    offA();
    tee.write(Uint8Array.of(0x21));
    expect(primary.text()).toBe('hi!');
    expect(a).toEqual([0x68, 0x69]);
    expect(b).toEqual([0x68, 0x69, 0x21]);
  });

  it('merges input from both sources without overrunning the front end', () => {
    const primary = new MemoryCharBackend();
    const tee = new TeeCharBackend(primary);
    const fe = new Fifo(2);
    tee.attach(fe);
    primary.pushInput(Uint8Array.of(1, 2, 3));
    tee.pushInput(Uint8Array.of(4, 5));
    expect(fe.got).toEqual([1, 2]);
    const drained: number[] = [];
    while (drained.length < 5) {
      drained.push(...fe.got.splice(0));
      fe.fill = 0;
      tee.notifyReadable(); // what the UART does when its FIFO drains
    }
    expect(drained.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(primary.queuedBytes + tee.queuedBytes).toBe(0);
  });
});
