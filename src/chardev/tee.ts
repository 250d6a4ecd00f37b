/**
 * A back end that copies a device's output to extra readers ("taps") besides its usual back
 * end, and lets one extra source feed input next to it. The WebSocket /serial endpoint uses it
 * so that COM1 reaches both stdio (or a file, a socket…) and the browser, without the UART
 * knowing there is more than one back end (QEMU's mux chardev plays the same role).
 *
 * Input from both the primary back end and `pushInput` reaches the front end through the
 * front end's own flow control (canReceive / notifyReadable), so neither source loses bytes to
 * the other; the extra source's queue is bounded by BufferedCharBackend's limit.
 */
import { BufferedCharBackend, type CharBackend, type CharFrontend } from './chardev.js';

export type CharTap = (data: Uint8Array) => void;

export class TeeCharBackend extends BufferedCharBackend {
  private readonly taps = new Set<CharTap>();

  constructor(readonly primary: CharBackend) {
    super();
  }

  write(data: Uint8Array): void {
    this.primary.write(data);
    for (const tap of this.taps) tap(data);
  }

  override attach(frontend: CharFrontend): void {
    super.attach(frontend);
    this.primary.attach(frontend);
  }

  override notifyReadable(): void {
    super.notifyReadable();
    this.primary.notifyReadable();
  }

  /** Adds a reader of the output; returns the function that removes it. */
  addTap(tap: CharTap): () => void {
    this.taps.add(tap);
    return () => {
      this.taps.delete(tap);
    };
  }
}
