/**
 * `-netdev socket` between real guests (issue 5), in one run of three VMs: pcvm VM A listens on
 * two socket netdevs; pcvm VM B connects to the first (pcvm ↔ pcvm) and a QEMU VM to the second
 * (pcvm ↔ QEMU: QEMU's length-prefixed stream framing on the wire both ways). Each guest sets
 * static addresses with `ifconfig` from autorun=, pings each peer until it answers (the peer
 * may still be booting), then pings it three times.
 *
 * Runs with PCVM_GUEST_TESTS=1 (two pcvm guests boot at once: many minutes).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { consoleLogFile, guestArgs, guestFiles, PCVM, runConsole, selectedGuestArches } from '../../scripts/guest-run.mjs';
import { freePort } from '../helpers/free-port.js';

const BOOT_MS = 2_400_000;
/** PCVM_GUEST_ARCH=i386 or amd64 runs one of the two. */
const ARCHES: readonly ('i386' | 'amd64')[] = selectedGuestArches();
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

type Vm = ReturnType<typeof runConsole>;
type Exit = { status: number | null; signal: string | null } | undefined;

/**
 * The kernel command line of a guest whose interfaces get the addresses in `ifaces` (eth0
 * first) and that pings each of `peers` until it answers, then three times.
 */
function pingAppend(ifaces: string[], peers: string[]): string {
  const commands = ifaces.flatMap((ip, i) => [`ifconfig eth${i} ${ip} netmask 255.255.255.0 up`, `cat /sys/class/net/eth${i}/address`]);
  for (const peer of peers) {
    // Until the peer is up: autorun turns ';' into newlines, so this is a three-line loop.
    commands.push(`until ping -c 1 ${peer} >/dev/null`, 'do sleep 1', 'done', `ping -c 3 ${peer}`);
  }
  commands.push('echo PING-DONE');
  return `console=ttyS0 autorun=${commands.map((c) => c.replaceAll(' ', '+')).join(';')}`;
}

/** The summary line busybox ping prints after `--- PEER ping statistics ---`. */
function pingSummary(vm: Vm, peer: string): string | undefined {
  const texts: string[] = vm.lines.map((l: { text: string }) => l.text);
  const i = texts.indexOf(`--- ${peer} ping statistics ---`);
  return i >= 0 ? texts[i + 1] : undefined;
}

for (const arch of ARCHES) {
  const guest = process.env.PCVM_GUEST_TESTS === '1' ? guestFiles(arch) : null;
  describe.skipIf(!guest || !haveQemu)(`Debian ${arch} guests on -netdev socket: pcvm ↔ pcvm and pcvm ↔ QEMU`, () => {
    const PORTS = { b: 0, q: 0 };
    const vms: { name: string; vm: Vm; exit?: Exit }[] = [];

    beforeAll(async () => {
      PORTS.b = await freePort();
      PORTS.q = await freePort();
      const a = runConsole(PCVM, guestArgs(guest, pingAppend(['10.0.9.1', '10.0.8.1'], ['10.0.9.2', '10.0.8.2']), [
        '-netdev', `socket,id=n0,listen=127.0.0.1:${PORTS.b}`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56',
        '-netdev', `socket,id=n1,listen=127.0.0.1:${PORTS.q}`, '-device', 'virtio-net-pci,netdev=n1,mac=52:54:00:12:34:58',
      ]), { logFile: consoleLogFile(`socket-pcvm-a-${arch}`) });
      vms.push({ name: 'pcvm A (listen=)', vm: a });
      try {
        // pcvm has opened its netdevs once the guest prints anything.
        await a.waitFor(/./, BOOT_MS);
        const b = runConsole(PCVM, guestArgs(guest, pingAppend(['10.0.9.2'], ['10.0.9.1']), [
          '-netdev', `socket,id=n0,connect=127.0.0.1:${PORTS.b}`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:57',
        ]), { logFile: consoleLogFile(`socket-pcvm-b-${arch}`) });
        vms.push({ name: 'pcvm B (connect=)', vm: b });
        const q = runConsole('qemu-system-x86_64', guestArgs(guest, pingAppend(['10.0.8.2'], ['10.0.8.1']), [
          '-netdev', `socket,id=n0,connect=127.0.0.1:${PORTS.q}`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:57',
        ]), { logFile: consoleLogFile(`socket-qemu-${arch}`) });
        vms.push({ name: 'QEMU (connect=)', vm: q });
        await Promise.all(vms.map(({ vm }) => vm.waitFor(/^PING-DONE$/, BOOT_MS)));
        for (const { vm } of vms) vm.type('poweroff -f\n');
        for (const v of vms) v.exit = await Promise.race([v.vm.exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300_000))]);
      } finally {
        for (const { name, vm } of vms) {
          vm.kill();
          process.stderr.write(`---- ${name}\n` + vm.lines.map((l: { t: number; text: string }) => `[${l.t.toFixed(1)}] ${l.text}`).join('\n') + '\n' + vm.stderr + '\n');
        }
      }
    }, BOOT_MS * 2);

    afterAll(() => {
      for (const { vm } of vms) vm.kill();
    });

    it('pcvm A and pcvm B (listen=/connect=) ping each other', () => {
      const [a, b] = vms;
      expect(pingSummary(a!.vm, '10.0.9.2')).toBe('3 packets transmitted, 3 packets received, 0% packet loss');
      expect(pingSummary(b!.vm, '10.0.9.1')).toBe('3 packets transmitted, 3 packets received, 0% packet loss');
    });

    it('pcvm A and a QEMU VM (listen=/connect=) ping each other', () => {
      const [a, , q] = vms;
      expect(pingSummary(a!.vm, '10.0.8.2')).toBe('3 packets transmitted, 3 packets received, 0% packet loss');
      expect(pingSummary(q!.vm, '10.0.8.1')).toBe('3 packets transmitted, 3 packets received, 0% packet loss');
    });

    it('all three guests power off; both pcvm VMs exit 0', () => {
      expect(vms.map((v) => v.exit?.status)).toEqual([0, 0, 0]);
    });
  });
}
