/**
 * The gdbstub's endpoint: `-gdb DEV`, `-s` (= `-gdb tcp::1234`) and HMP `gdbserver [DEV]`.
 * A socket server (or client) serving one gdb at a time, each connection a GdbSession. As
 * QEMU, a machine has at most one gdbstub: opening another replaces it.
 */
import { ConfigError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import { SocketEndpoint } from '../chardev/socket.js';
import { parseChardevCompat, type ChardevSpec } from '../cli/chardev-spec.js';
import { GdbSession } from './gdb-session.js';

/** The port of `-s` and of `gdbserver` without an argument. */
export const DEFAULT_GDBSTUB_PORT = 1234;

/** The gdbstub of each machine (a machine has at most one, as in QEMU). */
const SERVERS = new WeakMap<Machine, GdbServer>();

export class GdbServer {
  private session: GdbSession | undefined;
  private endpoint: SocketEndpoint | undefined;

  private constructor(private readonly machine: Machine, readonly description: string) {}

  /**
   * Opens the gdbstub on `spec` (a socket chardev) for `machine`, closing the one it had.
   * Rejects with a ConfigError when the device is not a socket or cannot be opened.
   */
  static async open(machine: Machine, spec: ChardevSpec, description: string): Promise<GdbServer> {
    if (spec.backend !== 'socket') throw new ConfigError(`gdbstub: character device '${spec.backend}' is not supported (use tcp: or unix:)`);
    if (spec.telnet || spec.websocket) throw new ConfigError('gdbstub: telnet and websocket socket modes are not supported');
    const server = new GdbServer(machine, description);
    server.endpoint = await SocketEndpoint.open(spec.address, spec.server, spec.wait, {
      onConnect: (write) => {
        server.session = new GdbSession(machine, (data) => write(data));
      },
      onData: (data) => server.session?.receive(data),
      onDisconnect: () => {
        server.session?.close();
        server.session = undefined;
      },
    });
    SERVERS.get(machine)?.close();
    SERVERS.set(machine, server);
    machine.once('exit', () => {
      // Let the W packet leave before the socket closes.
      setImmediate(() => server.close());
    });
    return server;
  }

  /** The TCP port listened on (with port 0, the one the system chose). */
  get port(): number | undefined {
    return this.endpoint?.port;
  }

  get connected(): boolean {
    return this.session !== undefined;
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
    this.endpoint?.close();
    this.endpoint = undefined;
    if (SERVERS.get(this.machine) === this) SERVERS.delete(this.machine);
  }

  /** The machine's gdbstub, if one is open. */
  static of(machine: Machine): GdbServer | undefined {
    return SERVERS.get(machine);
  }
}

/**
 * A gdbstub device string as `-gdb` and `gdbserver` take it: a chardev, where `tcp:` gets
 * QEMU's forced `server=on,wait=off,nodelay=on` (gdbserver_start), and — for HMP
 * `gdbserver PORT` — a bare port number means `tcp::PORT`. `none` gives undefined.
 */
export function gdbDeviceSpec(device: string): ChardevSpec | undefined {
  const text = /^[0-9]+$/.test(device) ? `tcp::${device}` : device;
  const spec = parseChardevCompat(text, 'gdbstub');
  if (spec.backend === 'none') return undefined;
  if (spec.backend === 'socket' && text.startsWith('tcp:')) return { ...spec, server: true, wait: false, nodelay: true };
  return spec;
}
