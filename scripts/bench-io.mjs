// Guest I/O throughput, for `npm run bench` (scripts/bench.mjs): the guest reads its whole
// virtio disk with dd and fetches a 64 MiB file by wget over `-netdev user` from an HTTP
// server on the host's loopback (10.0.2.2 in the guest), both timed by the guest's own clock
// (/proc/uptime, 10 ms). The same commands run on pcvm and on QEMU TCG with the same options,
// so the figures stand side by side. The wget payload's md5 is checked: a fast wrong answer
// is no figure.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { statSync } from 'node:fs';
import { guestArgs, runConsole } from './guest-run.mjs';

const BLOB_BYTES = 64 << 20;

/**
 * Serves one random file of `bytes` (64 MiB by default) at /blob on 127.0.0.1; resolves to
 * { port, md5, close }. The guest tests use it too.
 */
export async function startBlobServer(bytes = BLOB_BYTES) {
  const blob = randomBytes(bytes);
  const md5 = createHash('md5').update(blob).digest('hex');
  const server = createServer((req, res) => {
    if (req.url !== '/blob') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
    res.end(blob);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, md5, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The options, after the kernel's, that give the guest the disk (read-only) and a user-mode NIC. */
export function ioDeviceArgs(guest) {
  return [
    '-drive', `file=${guest.disk},if=virtio,format=raw,readonly=on`,
    '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0',
  ];
}

// One shell line per measurement, typed at the guest's prompt; each prints a marker line with
// the guest uptime before and after (the marker is built from pieces so that the typed
// command's echo never matches it).
const UP = "$(cut -d' ' -f1 /proc/uptime)";
const DD = `a=${UP}; dd if=/dev/vda of=/dev/null bs=1M 2>/dev/null; b=${UP}; echo IO""-DD $a $b\n`;
const wget = (port) => `a=${UP}; wget -q -O /tmp/blob http://10.0.2.2:${port}/blob; b=${UP}; echo IO""-WGET $a $b $(md5sum < /tmp/blob); rm -f /tmp/blob\n`;

/**
 * Boots `command args` (a guest with ioDeviceArgs), waits for the shell, brings the network
 * up, runs the two measurements and powers off. Returns { ddMBs, wgetMBs, md5 } (MB = 10^6
 * bytes, as dd prints) or throws with the console's last lines.
 */
export async function measureGuestIo(command, args, { guest, port, timeoutMs = 1_800_000 }) {
  const diskBytes = statSync(guest.disk).size;
  const vm = runConsole(command, args);
  try {
    await vm.waitFor(/^GUEST-READY /, timeoutMs);
    vm.type('guest-net\n');
    const net = await vm.waitFor(/^NET-(UP|FAIL)\b.*/, timeoutMs);
    if (net.match[1] !== 'UP') throw new Error(`guest network: ${net.text}`);
    vm.type(DD);
    const dd = await vm.waitFor(/^IO-DD ([\d.]+) ([\d.]+)$/, timeoutMs);
    vm.type(wget(port));
    const w = await vm.waitFor(/^IO-WGET ([\d.]+) ([\d.]+) ([0-9a-f]{32})/, timeoutMs);
    vm.type('poweroff -f\n');
    await Promise.race([vm.exit, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    const seconds = (m) => Number(m[2]) - Number(m[1]);
    return {
      ddMBs: diskBytes / 1e6 / seconds(dd.match),
      wgetMBs: BLOB_BYTES / 1e6 / seconds(w.match),
      md5: w.match[3],
    };
  } finally {
    vm.kill();
  }
}

/** Prints `BENCH <engine>-<arch>-dd-vda <MB/s>` and `…-wget-64M` for each engine. */
export async function benchGuestIo(arch, guest, engines) {
  const server = await startBlobServer();
  try {
    const append = 'console=ttyS0';
    for (const [engine, command, extra] of engines) {
      const args = [...extra, ...guestArgs(guest, append, ioDeviceArgs(guest))];
      try {
        const r = await measureGuestIo(command, args, { guest, port: server.port });
        const ok = r.md5 === server.md5 ? '' : ` (WRONG md5 ${r.md5}, expected ${server.md5})`;
        console.log(`BENCH ${engine}-${arch}-dd-vda ${r.ddMBs.toFixed(1)} MB/s`);
        console.log(`BENCH ${engine}-${arch}-wget-64M ${r.wgetMBs.toFixed(1)} MB/s${ok}`);
      } catch (e) {
        console.log(`BENCH ${engine}-${arch}-io failed: ${String(e).split('\n')[0]}`);
      }
    }
  } finally {
    await server.close();
  }
}

// `node scripts/bench-io.mjs [i386|amd64 ...]` runs only these figures (after `npm run build`).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { guestFiles, PCVM } = await import('./guest-run.mjs');
  const { spawnSync } = await import('node:child_process');
  const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
  const arches = process.argv.length > 2 ? process.argv.slice(2) : ['i386', 'amd64'];
  for (const arch of arches) {
    const guest = guestFiles(arch);
    if (!guest) {
      console.log(`BENCH guest-${arch} skipped (run \`npm run guests\`)`);
      continue;
    }
    const engines = [['pcvm', PCVM, []]];
    if (haveQemu) engines.push(['qemu-tcg', 'qemu-system-x86_64', ['-accel', 'tcg', '-no-reboot']]);
    await benchGuestIo(arch, guest, engines);
  }
}
