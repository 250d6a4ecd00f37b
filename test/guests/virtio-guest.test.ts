/**
 * The i386 Debian guest finds its disk and NIC on virtio-pci: `mount /dev/vda /mnt` reads the
 * marker file scripts/build-guests.sh puts on disk.ext4, and eth0 has QEMU's default MAC.
 * Runs with PCVM_GUEST_TESTS=1 (a boot with the interpreter takes minutes), on a copy of the
 * disk so that the built image stays untouched.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { guestArgs, guestFiles, PCVM, runConsole } from '../../scripts/guest-run.mjs';

// On a host shared with other work a boot has taken more than 15 minutes.
const BOOT_MS = 1_800_000;
const guest = process.env.PCVM_GUEST_TESTS === '1' ? guestFiles('i386') : null;

describe.skipIf(!guest)('Debian i386 guest on virtio', () => {
  it('mounts /dev/vda and reads marker.txt; eth0 is the virtio NIC with 52:54:00:12:34:56', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-virtio-'));
    const disk = join(dir, 'disk.ext4');
    copyFileSync(guest.disk, disk);
    const autorun = 'autorun=mount+/dev/vda+/mnt;cat+/mnt/marker.txt;cat+/sys/class/net/eth0/address;umount+/mnt;poweroff+-f';
    const vm = runConsole(PCVM, [...guestArgs(guest, `console=ttyS0 ${autorun}`, [
      '-drive', `file=${disk},if=virtio,format=raw`,
      '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0',
    ])]);
    try {
      await vm.waitFor(/^GUEST-READY /, BOOT_MS);
      await vm.waitFor(/^hello from the virtio disk$/, BOOT_MS);
      await vm.waitFor(/^52:54:00:12:34:56$/, BOOT_MS);
      expect(await vm.exit).toEqual({ status: 0, signal: null });
    } catch (e) {
      // The console tells what the guest saw (driver probe messages, mount errors).
      process.stderr.write(vm.lines.map((l: { text: string }) => l.text).join('\n') + '\n' + vm.stderr + '\n');
      throw e;
    } finally {
      vm.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_MS * 2);
});
