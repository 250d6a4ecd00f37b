/**
 * One boot of each Debian guest (i386, then amd64) proves issue 5's disk and user-network items:
 *
 * - virtio-blk, raw and qcow2: the guest mounts a raw copy of disk.ext4 as /dev/vda and a qcow2
 *   copy of disk.qcow2 as /dev/vdb, reads the marker file on both, writes a text file and 300 KiB
 *   of random bytes to both, `sync`s and unmounts. On the host the files are read back from the
 *   images with debugfs (the qcow2 image after `qemu-img check` and `qemu-img convert -O raw`),
 *   byte for byte against the guest's md5sum, and e2fsck finds both file systems clean.
 * - `-netdev user`: `udhcpc -i eth0` leases 10.0.2.15; `wget` of 1 MiB from an HTTP server on the
 *   host's loopback through the gateway 10.0.2.2 has the host file's md5sum;
 *   `hostfwd=tcp::HOSTPORT-:5555` carries a host TCP client to a guest `nc -l -p 5555` and back.
 *
 * Runs with PCVM_GUEST_TESTS=1 (the boot takes minutes), on copies of the images in a temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { consoleLogFile, guestArgs, guestFiles, PCVM, runConsole, selectedGuestArches } from '../../scripts/guest-run.mjs';
// @ts-expect-error: plain JavaScript module (the benchmark's blob server)
import { startBlobServer } from '../../scripts/bench-io.mjs';
import { freePort } from '../helpers/free-port.js';

// On a host shared with other work a boot has taken more than 15 minutes.
const BOOT_MS = 1_800_000;
/** PCVM_GUEST_ARCH=i386 or amd64 runs one of the two. */
const ARCHES: readonly ('i386' | 'amd64')[] = selectedGuestArches();
const GUEST_PORT = 5555;

type Vm = ReturnType<typeof runConsole>;
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

/**
 * Connects to the host end of the forward until the guest's `nc` answers (before nc listens the
 * NAT's connection to the guest is refused and the host socket closes without data). Sends
 * `line`, returns what the guest sent.
 */
async function talkThroughForward(port: number, line: string, deadline: number): Promise<string> {
  while (performance.now() < deadline) {
    const got = await new Promise<string>((resolve) => {
      let data = '';
      const sock = connect(port, '127.0.0.1', () => sock.write(line));
      sock.on('data', (d) => {
        data += d.toString();
        if (data.includes('\n')) sock.end();
      });
      sock.on('error', () => resolve(''));
      sock.on('close', () => resolve(data));
      sock.setTimeout(60_000, () => sock.destroy());
    });
    if (got !== '') return got;
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new Error('the guest never answered through the host forward');
}

/** `debugfs -R 'dump /name out' image` — the file as the image holds it. */
function dumpFromImage(image: string, name: string, out: string): Buffer {
  execFileSync('debugfs', ['-R', `dump /${name} ${out}`, image], { stdio: 'pipe' });
  return readFileSync(out);
}

for (const arch of ARCHES) {
  const guest = process.env.PCVM_GUEST_TESTS === '1' ? guestFiles(arch) : null;
  describe.skipIf(!guest)(`Debian ${arch} guest: virtio-blk raw + qcow2 writes, user-mode network`, () => {
    const dir = guest ? mkdtempSync(join(tmpdir(), 'pcvm-virtio-done-')) : '';
    const raw = join(dir, 'disk.ext4');
    const qcow2 = join(dir, 'disk.qcow2');
    let http: { port: number; md5: string; close: () => Promise<void> };
    let vm: Vm;
    let forwardReply = '';
    let forwardError: unknown;
    let exit: { status: number | null; signal: string | null } | undefined;
    const lineOf = (re: RegExp): string | undefined => vm.lines.map((l: { text: string }) => l.text).find((t: string) => re.test(t));

    beforeAll(async () => {
      copyFileSync(guest!.disk, raw);
      copyFileSync(guest!.qcow2, qcow2);
      http = await startBlobServer(1 << 20);
      const httpPort = http.port;
      const hostPort = await freePort();
      const commands = [
        'mount /dev/vda /mnt',
        'sed s/^/RAW-MARKER:/ /mnt/marker.txt',
        'mkdir /q',
        'mount /dev/vdb /q',
        'sed s/^/QCOW2-MARKER:/ /q/marker.txt',
        'dd if=/dev/urandom of=/tmp/r.bin bs=1k count=300',
        'md5sum /tmp/r.bin',
        'cp /tmp/r.bin /mnt/guest.bin',
        'cp /tmp/r.bin /q/guest.bin',
        'echo written-in-guest-raw > /mnt/guest.txt',
        'echo written-in-guest-qcow2 > /q/guest.txt',
        'sync',
        'echo DISKS-SYNCED',
        'umount /mnt',
        'echo RAW-UNMOUNTED',
        'umount /q',
        'echo QCOW2-UNMOUNTED',
        // Throughput, for the record (busybox dd prints the rate): 32 MiB read from each disk.
        'dd if=/dev/vda of=/dev/null bs=1M count=32',
        'dd if=/dev/vdb of=/dev/null bs=1M count=32',
        'ifconfig lo 127.0.0.1 up',
        'ifconfig eth0 up',
        'udhcpc -i eth0 -q -n -t 5 -s /usr/share/udhcpc/default.script',
        'ifconfig eth0',
        // No -T: Debian's busybox 1.35 wget segfaults with -T on real hardware too.
        `time wget -O /tmp/blob http://10.0.2.2:${httpPort}/blob`,
        'md5sum /tmp/blob',
        'echo NC-LISTENING',
        `echo from-guest | nc -l -p ${GUEST_PORT}`,
        'echo NC-DONE',
        'poweroff -f',
      ];
      const autorun = 'autorun=' + commands.map((c) => c.replaceAll(' ', '+')).join(';');
      vm = runConsole(PCVM, [...guestArgs(guest, `console=ttyS0 ${autorun}`, [
        '-drive', `file=${raw},if=virtio,format=raw`,
        '-drive', `file=${qcow2},if=virtio,format=qcow2`,
        '-netdev', `user,id=n0,hostfwd=tcp::${hostPort}-:${GUEST_PORT}`, '-device', 'virtio-net-pci,netdev=n0',
        ...(process.env.PCVM_GUEST_LOG_DIR ? ['-d', 'guest_errors,unimp', '-D', join(process.env.PCVM_GUEST_LOG_DIR, `disks-user-net-${arch}.pcvm-log.txt`)] : []),
      ])], { logFile: consoleLogFile(`disks-user-net-${arch}`) });
      try {
        await vm.waitFor(/^GUEST-READY /, BOOT_MS);
        await vm.waitFor(/^NC-LISTENING$/, BOOT_MS);
        try {
          forwardReply = await talkThroughForward(hostPort, 'from-host\n', performance.now() + 600_000);
        } catch (e) {
          forwardError = e;
        }
        await vm.waitFor(/^NC-DONE$/, 600_000).catch(() => {});
        exit = await Promise.race([vm.exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300_000))]);
      } finally {
        vm.kill();
        await http.close();
        // The console tells what the guest saw (driver messages, mount and network errors).
        process.stderr.write(vm.lines.map((l: { t: number; text: string }) => `[${l.t.toFixed(1)}] ${l.text}`).join('\n') + '\n' + vm.stderr + '\n');
      }
    }, BOOT_MS * 2);

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('mounts /dev/vda (raw) and /dev/vdb (qcow2) and reads marker.txt on both', () => {
      expect(lineOf(/^RAW-MARKER:/)).toBe('RAW-MARKER:hello from the virtio disk');
      expect(lineOf(/^QCOW2-MARKER:/)).toBe('QCOW2-MARKER:hello from the virtio disk');
    });

    it('files written and synced in the guest are in the raw image (debugfs), and e2fsck finds it clean', () => {
      expect(lineOf(/^DISKS-SYNCED$/)).toBeDefined();
      const sum = /^([0-9a-f]{32}) {2}\/tmp\/r\.bin$/.exec(lineOf(/ {2}\/tmp\/r\.bin$/) ?? '')?.[1];
      expect(sum).toMatch(/^[0-9a-f]{32}$/);
      expect(dumpFromImage(raw, 'guest.txt', join(dir, 'raw-guest.txt')).toString()).toBe('written-in-guest-raw\n');
      const bin = dumpFromImage(raw, 'guest.bin', join(dir, 'raw-guest.bin'));
      expect(bin.length).toBe(300 * 1024);
      expect(md5(bin)).toBe(sum);
      const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
      expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    });

    it('qcow2: qemu-img check exits 0, and after qemu-img convert to raw the files are there (debugfs)', () => {
      const check = spawnSync('qemu-img', ['check', qcow2], { encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const converted = join(dir, 'converted.raw');
      execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, converted]);
      const sum = /^([0-9a-f]{32}) {2}\/tmp\/r\.bin$/.exec(lineOf(/ {2}\/tmp\/r\.bin$/) ?? '')?.[1];
      expect(dumpFromImage(converted, 'guest.txt', join(dir, 'qcow2-guest.txt')).toString()).toBe('written-in-guest-qcow2\n');
      const bin = dumpFromImage(converted, 'guest.bin', join(dir, 'qcow2-guest.bin'));
      expect(md5(bin)).toBe(sum);
      const fsck = spawnSync('e2fsck', ['-fn', converted], { encoding: 'utf8' });
      expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    });

    it('udhcpc -i eth0 leases 10.0.2.15', () => {
      expect(lineOf(/udhcpc: lease of /)).toMatch(/lease of 10\.0\.2\.15 obtained/);
      expect(lineOf(/inet addr:/)).toMatch(/inet addr:10\.0\.2\.15 /);
    });

    it('wget of 1 MiB from the host loopback through 10.0.2.2 has the host file md5sum', () => {
      expect(lineOf(/ {2}\/tmp\/blob$/)).toBe(`${http.md5}  /tmp/blob`);
    });

    it('hostfwd=tcp::HOSTPORT-:5555 carries a host client to the guest nc -l -p 5555 and back', () => {
      expect(forwardError).toBeUndefined();
      expect(forwardReply).toBe('from-guest\n');
      expect(lineOf(/^from-host$/)).toBe('from-host');
      expect(lineOf(/^NC-DONE$/)).toBe('NC-DONE');
    });

    it('the guest powers off and pcvm exits 0', () => {
      expect(exit).toEqual({ status: 0, signal: null });
    });
  });
}
