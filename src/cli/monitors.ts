/**
 * Opens the monitors the command line asked for — `-monitor DEV` (HMP) and `-qmp DEV` (QMP) on
 * sockets or stdio — and the serial ports on sockets. Each socket client gets its own session.
 * Stdio HMP is served by the stdio mux (src/ui/stdio-mux.ts), not here.
 */
import type { Readable, Writable } from 'node:stream';
import { ConfigError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import { HmpSession } from '../monitor/hmp-session.js';
import { QmpSession } from '../monitor/qmp.js';
import { SocketEndpoint } from '../chardev/socket.js';
import type { ChardevSpec, CliOptions } from './options.js';
import type { HostSetup } from './machine-from-options.js';

export interface OpenMonitors {
  close(): void;
}

interface Stdio {
  stdin: Readable;
  stdout: Writable;
}

export async function openMonitors(machine: Machine, opts: CliOptions, setup: HostSetup, stdio: Stdio, stdioTaken: boolean): Promise<OpenMonitors> {
  const endpoints: SocketEndpoint[] = [];
  const cleanups: (() => void)[] = [];
  try {
    machine.chardevs.append(setup.chardevs);
    for (const { spec, handlers, label } of setup.serialSockets) {
      const ep = await SocketEndpoint.open(spec.address, spec.server, spec.wait, handlers);
      endpoints.push(ep);
      machine.chardevs.addMaybeMuxed(label, spec.mux, () => ep.qemuFilename());
    }
    for (const [kind, specs] of [['hmp', opts.monitor], ['qmp', opts.qmp]] as const) {
      for (const spec of specs) {
        // QEMU's monitor_parse names each -monitor/-qmp device compat_monitorN, N in creation order.
        const label = `compat_monitor${opts.compatMonitors.indexOf(spec)}`;
        if (spec.backend !== 'socket') machine.chardevs.addMaybeMuxed(label, spec.mux, spec.backend);
        if (kind === 'hmp' && spec.backend === 'stdio') continue; // the stdio mux serves it
        if (spec.backend === 'null' || spec.backend === 'none' || (kind === 'hmp' && spec.backend === 'vc')) continue;
        if (spec.backend === 'stdio') {
          if (stdioTaken) throw new ConfigError('cannot use stdio by multiple character devices');
          stdioTaken = true;
          cleanups.push(serveQmpOnStdio(machine, stdio));
          continue;
        }
        if (spec.backend !== 'socket') throw new ConfigError(`-${kind === 'hmp' ? 'monitor' : 'qmp'}: character device '${spec.backend}' is not supported yet`);
        const ep = await openSocketMonitor(machine, kind, spec);
        endpoints.push(ep);
        machine.chardevs.addMaybeMuxed(label, spec.mux, () => ep.qemuFilename());
      }
    }
  } catch (e) {
    for (const ep of endpoints) ep.close();
    for (const c of cleanups) c();
    throw e;
  }
  return {
    close() {
      for (const ep of endpoints) ep.close();
      for (const c of cleanups) c();
    },
  };
}

function openSocketMonitor(machine: Machine, kind: 'hmp' | 'qmp', spec: Extract<ChardevSpec, { backend: 'socket' }>): Promise<SocketEndpoint> {
  if (spec.telnet || spec.websocket) throw new ConfigError('telnet and websocket socket modes are not supported yet');
  let session: HmpSession | QmpSession | undefined;
  return SocketEndpoint.open(spec.address, spec.server, spec.wait, {
    onConnect(write) {
      if (kind === 'qmp') {
        const q = new QmpSession(machine, write);
        session = q;
        q.start();
      } else {
        const h = new HmpSession(machine, write);
        session = h;
        h.start();
      }
    },
    onData(data) {
      if (session instanceof QmpSession) session.receive(data.toString('utf8'));
      else session?.input(data);
    },
    onDisconnect() {
      if (session instanceof QmpSession) session.close();
      session = undefined;
    },
  });
}

/** `-qmp stdio`: QMP on this process's stdin and stdout. */
function serveQmpOnStdio(machine: Machine, { stdin, stdout }: Stdio): () => void {
  const session = new QmpSession(machine, (t) => stdout.write(t));
  const onData = (d: Buffer) => session.receive(d.toString('utf8'));
  stdin.on('data', onData);
  stdin.resume();
  session.start();
  return () => {
    session.close();
    stdin.off('data', onData);
    stdin.pause();
  };
}
