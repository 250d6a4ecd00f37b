/**
 * A character back end on a pair of Node streams (stdout for output; input pushed by
 * whoever reads the input stream, e.g. the stdio mux).
 */
import type { Writable } from 'node:stream';
import { BufferedCharBackend } from './chardev.js';

export class StreamCharBackend extends BufferedCharBackend {
  constructor(private readonly out: Writable) {
    super();
  }
  write(data: Uint8Array): void {
    this.out.write(Buffer.from(data));
  }
}

/** Appends guest output to a file (`-serial file:PATH`); never produces input. */
export class FileCharBackend extends BufferedCharBackend {
  constructor(private readonly fd: number, private readonly writeSync: (fd: number, data: Uint8Array) => void) {
    super();
  }
  write(data: Uint8Array): void {
    this.writeSync(this.fd, data);
  }
}
