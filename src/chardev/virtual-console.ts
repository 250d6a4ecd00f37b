/**
 * A virtual console (QEMU's `vc` chardev): a serial port shown in a pane of the terminal UI.
 * The machine is built before the display, so output written before the display attaches is
 * kept (up to a bound) and handed over when it does; input is pushed by the display.
 */
import { BufferedCharBackend } from './chardev.js';

/** Output kept for a display that has not attached yet; older bytes are dropped past this. */
const MAX_EARLY_OUTPUT_BYTES = 64 * 1024;

export class VirtualConsoleCharBackend extends BufferedCharBackend {
  private sink: ((data: Uint8Array) => void) | undefined;
  private early: Uint8Array[] = [];
  private earlyBytes = 0;

  write(data: Uint8Array): void {
    if (this.sink) {
      this.sink(data);
      return;
    }
    this.early.push(Uint8Array.from(data));
    this.earlyBytes += data.length;
    while (this.earlyBytes > MAX_EARLY_OUTPUT_BYTES && this.early.length > 1) this.earlyBytes -= this.early.shift()!.length;
  }

  /** Sends guest output to `sink` from now on, starting with what was written before. */
  connect(sink: (data: Uint8Array) => void): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const chunk of early) sink(chunk);
  }
}
