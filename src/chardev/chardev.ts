/**
 * Character devices: byte streams between a guest-facing device (a UART, the monitor) and the
 * outside (stdio, a file, a socket, a WebSocket). QEMU calls the guest side the front end.
 *
 * Input is flow-controlled the way QEMU's chardev layer does it: the back end asks the front
 * end how many bytes it can take (`canReceive`) and delivers at most that many, keeping the
 * rest until `notifyReadable` is called. A UART with a full FIFO therefore loses nothing
 * that was pasted into the console.
 */

/** The guest-facing side: a device that consumes bytes from the outside. */
export interface CharFrontend {
  /** How many bytes `receive` can take right now (0 = none). */
  canReceive(): number;
  /** Delivers bytes; never more than the last `canReceive()` returned. */
  receive(data: Uint8Array): void;
  /** A break condition on the line (QEMU's CHR_EVENT_BREAK, `C-a b`). Optional. */
  receiveBreak?(): void;
}

/** The outside-facing side: where guest output goes and where input comes from. */
export interface CharBackend {
  /** Bytes written by the guest-facing device. */
  write(data: Uint8Array): void;
  /** Connects the device that takes this back end's input. */
  attach(frontend: CharFrontend): void;
  /** Called by the front end when it can take input again (its FIFO drained). */
  notifyReadable(): void;
}

/**
 * A back end that buffers input and hands it to the front end as room appears; the base of
 * every concrete back end. Subclasses call `pushInput` with what arrives and implement
 * `write`.
 */
export abstract class BufferedCharBackend implements CharBackend {
  private frontend: CharFrontend | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Input beyond this is dropped (a peer that floods cannot grow memory without bound). */
  constructor(private readonly maxPendingBytes = 1 << 20) {}

  abstract write(data: Uint8Array): void;

  attach(frontend: CharFrontend): void {
    this.frontend = frontend;
    this.notifyReadable();
  }

  /** Queues bytes from the outside and delivers what the front end can take. */
  pushInput(data: Uint8Array): void {
    if (data.length === 0) return;
    const room = this.maxPendingBytes - this.pendingBytes;
    if (room <= 0) return;
    const chunk = data.length > room ? data.subarray(0, room) : data;
    this.pending.push(Uint8Array.from(chunk));
    this.pendingBytes += chunk.length;
    this.notifyReadable();
  }

  /** Bytes queued but not yet taken by the front end. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  notifyReadable(): void {
    const fe = this.frontend;
    if (!fe) return;
    while (this.pending.length > 0) {
      const room = fe.canReceive();
      if (room <= 0) return;
      const head = this.pending[0]!;
      const n = Math.min(room, head.length);
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
      this.pendingBytes -= n;
      fe.receive(head.subarray(0, n));
    }
  }

  sendBreak(): void {
    this.frontend?.receiveBreak?.();
  }
}

/** Discards output and never produces input (`-serial null`). */
export class NullCharBackend extends BufferedCharBackend {
  write(): void {}
}

/** Collects output in memory; tests and the library's waitForSerial read it. */
export class MemoryCharBackend extends BufferedCharBackend {
  private chunks: Uint8Array[] = [];
  write(data: Uint8Array): void {
    this.chunks.push(Uint8Array.from(data));
  }
  /** All output so far as latin1 text. */
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}
