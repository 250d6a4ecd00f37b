/**
 * Opens the back end a `-netdev` spec names (QEMU's `net_client_init1`): `socket` (socket/)
 * and `user` (user/). The back end is usable at once; `ready` settles when its host sockets
 * are bound — the machine awaits it so that a port already in use stops start-up with a
 * ConfigError, as QEMU exits when it cannot bind.
 */

import { ConfigError } from '../errors.js';
import type { NetdevSpec } from '../cli/netdev-spec.js';
import { parseHostPort } from '../cli/keyval.js';
import type { NetBackend } from './net-backend.js';
import { hostNetClock, type NetClock } from './net-clock.js';
import { SocketNetdev } from './socket/socket-netdev.js';
import { userNetConfig } from './user/user-config.js';
import { UserNetdev } from './user/user-netdev.js';

export interface NetdevEnv {
  /** Messages for the user (bad peers, unimplemented guest requests). */
  log: (line: string) => void;
  /** The machine's virtual clock; without it, host time. */
  clock?: NetClock;
}

/** A NetBackend with the promise of its host-side setup. */
export interface OpenedNetdev extends NetBackend {
  /** Resolves once listening sockets are bound; rejects with a ConfigError when QEMU would refuse to start. */
  readonly ready: Promise<void>;
}

export function openNetdev(spec: NetdevSpec, env: NetdevEnv): OpenedNetdev {
  if (spec.type === 'socket') {
    if (spec.mode === 'mcast') throw new ConfigError(`-netdev socket,id=${spec.id}: mcast= is not supported`);
    const localAddr = spec.localAddr !== undefined ? parseHostPort(spec.localAddr, 'localaddr') : undefined;
    if (spec.mode === 'udp' && !localAddr) throw new ConfigError('localaddr= is mandatory with udp=');
    return new SocketNetdev({ id: spec.id, mode: spec.mode, host: spec.host, port: spec.port, ...(localAddr ? { localAddr } : {}), log: env.log });
  }
  const cfg = userNetConfig(spec.id, spec.props, spec.hostfwd, spec.guestfwd);
  return new UserNetdev({ cfg, clock: env.clock ?? hostNetClock(), log: env.log });
}

/** `info usernet`: every user-mode network's connections, as QEMU prints them (nothing if none). */
export function infoUsernet(backends: readonly NetBackend[]): string {
  return backends.filter((b): b is UserNetdev => b instanceof UserNetdev).map((b) => b.infoUsernet()).join('');
}
