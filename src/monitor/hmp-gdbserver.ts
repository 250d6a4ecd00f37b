/**
 * HMP `gdbserver [device]`: starts the gdbstub on a chardev (default `tcp::1234`; a bare
 * number is a TCP port), or stops it with `none` — QEMU's hmp_gdbserver and its messages.
 *
 * XXX: sockets bind asynchronously in Node, so the command answers before the bind is done;
 * a bind failure (port in use) is then reported on pcvm's stderr instead of as the command's
 * output.
 */
import { ConfigError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import { DEFAULT_GDBSTUB_PORT, GdbServer, gdbDeviceSpec } from '../gdb/gdb-server.js';

export function hmpGdbserver(m: Machine, device = `tcp::${DEFAULT_GDBSTUB_PORT}`): string {
  let spec;
  try {
    spec = gdbDeviceSpec(device);
  } catch (e) {
    if (e instanceof ConfigError) return `Could not open gdbserver on device '${device}'`;
    throw e;
  }
  if (!spec) {
    GdbServer.of(m)?.close();
    return 'Disabled gdbserver';
  }
  if (spec.backend !== 'socket') return `Could not open gdbserver on device '${device}'`;
  GdbServer.open(m, spec, device).catch((e: unknown) => {
    process.stderr.write(`pcvm: Could not open gdbserver on device '${device}': ${e instanceof Error ? e.message : String(e)}\n`);
  });
  return `Waiting for gdb connection on device '${device}'`;
}
