/**
 * `hostfwd=tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport`: host ports whose clients reach a
 * guest port (slirp's `slirp_add_hostfwd`). The host address defaults to any, the guest address
 * to the first DHCP address (QEMU's default). TCP clients become NAT connections that the NAT
 * opens toward the guest with a SYN; UDP ports are permanent UDP flows.
 *
 * A port that cannot be bound stops start-up with QEMU's message.
 */

import { createServer, type Server } from 'node:net';
import { ConfigError } from '../../errors.js';
import type { HostForward } from '../../cli/netdev-spec.js';
import { ipv4ToString, parseIpv4 } from './ip-address.js';
import type { TcpNat, TcpConnectionInfo } from './tcp-nat.js';
import type { UdpNat } from './udp-nat.js';
import type { UserNetConfig } from './user-config.js';
import { socketFd } from './udp-nat.js';

export function hostForwardText(r: HostForward): string {
  return `${r.protocol}:${r.hostAddr}:${r.hostPort}-${r.guestAddr}:${r.guestPort}`;
}

export class HostForwards {
  private readonly servers: { rule: HostForward; server: Server; guestIp: number }[] = [];

  constructor(private readonly cfg: UserNetConfig, private readonly tcp: TcpNat, private readonly udp: UdpNat) {}

  /** Binds every rule; rejects with a ConfigError naming the first that fails. */
  async open(rules: readonly HostForward[]): Promise<void> {
    for (const rule of rules) {
      const guestIp = rule.guestAddr === '' ? this.cfg.dhcpStart : parseIpv4(rule.guestAddr)!;
      const fail = (e: Error): ConfigError => new ConfigError(`Could not set up host forwarding rule '${hostForwardText(rule)}': ${e.message}`);
      if (rule.protocol === 'udp') {
        await this.udp.forward(rule.hostAddr, rule.hostPort, guestIp, rule.guestPort).catch((e: Error) => Promise.reject(fail(e)));
        continue;
      }
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => this.tcp.acceptForwarded(sock, guestIp, rule.guestPort));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) => reject(fail(e)));
        server.listen(rule.hostPort, rule.hostAddr || '0.0.0.0', () => resolve());
      });
      server.on('error', () => {});
      this.servers.push({ rule, server, guestIp });
    }
  }

  /** The port a TCP rule listens on (useful with host port 0). */
  tcpPort(index: number): number | undefined {
    const a = this.servers[index]?.server.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** `TCP[HOST_FORWARD]` lines of `info usernet`, in rule order as QEMU 7.2 lists them. */
  info(): TcpConnectionInfo[] {
    return this.servers.map(({ rule, server, guestIp }) => {
      const a = server.address();
      const port = a && typeof a === 'object' ? a.port : rule.hostPort;
      return {
        state: 'HOST_FORWARD', fd: socketFd(server), srcIp: rule.hostAddr === '' || rule.hostAddr === '0.0.0.0' ? '*' : rule.hostAddr,
        srcPort: port, dstIp: ipv4ToString(guestIp), dstPort: rule.guestPort, recvQ: 0, sendQ: 0,
      };
    });
  }

  close(): void {
    for (const s of this.servers) s.server.close();
    this.servers.length = 0;
  }
}
