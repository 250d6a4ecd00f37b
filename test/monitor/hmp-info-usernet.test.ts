/**
 * `info usernet` from the monitor: each user-mode network's header and connection table in
 * QEMU 7.2's columns (the table itself is src/net/user/info-usernet.ts, tested with live
 * connections in test/net/user-netdev.test.ts). Expected text from QEMU 7.2:
 *
 *   qemu-system-x86_64 -S -display none -monitor stdio -serial file:/tmp/hx
 *     -nic user,hostfwd=tcp::5555-:22,hostfwd=udp:127.0.0.1:5556-:53
 *   (qemu) info usernet
 *   Hub -1 (#net035):
 *     Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
 *     TCP[HOST_FORWARD]  14               *  5555       10.0.2.15    22     0     0
 *     UDP[HOST_FORWARD]  13       127.0.0.1  5556       10.0.2.15    53     0     0
 *
 * The FD column is a host descriptor number (QEMU's socket fd; pcvm's the Node socket's fd
 * where Node exposes it) and the `-nic` netdev's name is a generated id (QEMU's counter is
 * shared with every other generated id, so its number differs): both are masked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hmpLinesFromCli } from './hmp-cli.js';
import { freePort } from '../helpers/free-port.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const maskFd = (l: string): string => l.replace(/^(.{19}) [ 0-9-]{3} /, '$1 FD# ');

describe('HMP info usernet', () => {
  it('lists each -nic user back end with its host forwards in QEMU 7.2 columns', async () => {
    const [tcp, udp] = [await freePort(), await freePort()];
    const lines = await hmpLinesFromCli(['-display', 'none', '-monitor', 'stdio', '-serial', 'null',
      '-nic', `user,hostfwd=tcp::${tcp}-:22,hostfwd=udp:127.0.0.1:${udp}-:53`], 'info usernet', cleanups);
    const qemu = [
      'Hub -1 (#net035):',
      '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
      '  TCP[HOST_FORWARD]  14               *  5555       10.0.2.15    22     0     0',
      '  UDP[HOST_FORWARD]  13       127.0.0.1  5556       10.0.2.15    53     0     0',
    ].map((l) => l.replace('#net035', '#net000').replace(' 5555 ', `${String(tcp).padStart(5)} `).replace(' 5556 ', `${String(udp).padStart(5)} `));
    expect(lines.map(maskFd)).toEqual(qemu.map(maskFd));
  });

  it('names a -netdev user back end by its id and prints one table per network', async () => {
    // qemu-system-x86_64 ... -netdev user,id=n1 -netdev user,id=n2 prints "Hub -1 (n1):" and
    // "Hub -1 (n2):" each with the column header and no connection lines.
    const lines = await hmpLinesFromCli(['-display', 'none', '-monitor', 'stdio', '-serial', 'null',
      '-netdev', 'user,id=n1', '-netdev', 'user,id=n2'], 'info usernet', cleanups);
    const header = '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ';
    expect(lines).toEqual(['Hub -1 (n1):', header, 'Hub -1 (n2):', header]);
  });

  it('prints nothing without a user-mode network', async () => {
    // qemu-system-x86_64 -S -display none -monitor stdio -serial null -nic none: no output.
    const lines = await hmpLinesFromCli(['-display', 'none', '-monitor', 'stdio', '-serial', 'null', '-nic', 'none'], 'info usernet', cleanups);
    expect(lines).toEqual([]);
  });
});
