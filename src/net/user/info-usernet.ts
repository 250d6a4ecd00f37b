/**
 * `info usernet` as QEMU prints it (net/slirp.c `hmp_info_usernet` around libslirp's
 * `slirp_connection_info`): a "Hub -1 (ID):" header per user network, the column header, then
 * one line per TCP socket, UDP socket: protocol and state padded to 19 columns, then
 * "%3d %15s %5d %15s %5d %5d %5d" (fd, source address and port, destination address and port,
 * RecvQ, SendQ). UDP sockets show the seconds left before they expire.
 */

import type { TcpConnectionInfo } from './tcp-nat.js';
import type { UdpFlowInfo } from './udp-nat.js';

const HEADER = '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\n';

function line(proto: string, fd: number, srcIp: string, srcPort: number, dstIp: string, dstPort: number, recvQ: number, sendQ: number): string {
  const n = (v: number, w: number): string => String(v).padStart(w);
  return `${proto.padEnd(19)} ${n(fd, 3)} ${srcIp.padStart(15)} ${n(srcPort, 5)} ${dstIp.padStart(15)} ${n(dstPort, 5)} ${n(recvQ, 5)} ${n(sendQ, 5)}\n`;
}

export function formatUsernet(id: string, tcp: readonly TcpConnectionInfo[], udp: readonly UdpFlowInfo[]): string {
  let out = `Hub -1 (${id}):\n${HEADER}`;
  for (const t of tcp) out += line(`  TCP[${t.state}]`, t.fd, t.srcIp, t.srcPort, t.dstIp, t.dstPort, t.recvQ, t.sendQ);
  for (const u of udp) {
    const state = u.hostfwd ? '  UDP[HOST_FORWARD]' : `  UDP[${Math.trunc(u.expiresNs / 1e9)} sec]`;
    out += line(state, u.fd, u.srcIp, u.srcPort, u.dstIp, u.dstPort, 0, 0);
  }
  return out;
}
