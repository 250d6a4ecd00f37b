/**
 * From the command line to the board: which PCI slot each virtio function gets, and what
 * `info block`, `query-block` and `info network` print. The expected layout and text are
 * what qemu-system-x86_64 7.2 printed for the same options (-nographic, so its VGA holds
 * 00:02.0): NICs first, then -device in order, then `-drive if=virtio`, from slot 3.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/options.js';
import { machineFromOptions } from '../../src/cli/machine-from-options.js';
import { Machine } from '../../src/machine/machine.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pcvm-virtio-wiring-'));
const img = (name: string, bytes: number) => {
  const p = join(dir, name);
  writeFileSync(p, new Uint8Array(bytes));
  return p;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function boot(argv: string[]) {
  const opts = parseCommandLine(['-display', 'none', '-S', ...argv]);
  const setup = machineFromOptions(opts, process.stdout);
  const machine = new Machine(setup.config, { serial: setup.serial, log: setup.log, drives: setup.virtio.drives, netdevs: setup.virtio.netdevs });
  setup.virtio.bindClock(machine.clock);
  return { machine, setup };
}

describe('virtio wiring', () => {
  it("places functions in QEMU's order and prints info block / info network as QEMU does", () => {
    const a = img('a.img', 1 << 20);
    const b = img('b.img', 2 << 20);
    const c = img('c.img', 1 << 20);
    const { machine, setup } = boot([
      '-drive', `file=${a},if=virtio,format=raw`,
      '-device', 'virtio-net-pci,netdev=n0', '-netdev', 'user,id=n0',
      '-drive', `file=${b},if=none,id=d2,format=raw`, '-device', 'virtio-blk-pci,drive=d2,id=blk2',
      '-drive', `file=${c},if=virtio,format=raw,readonly=on,cache=none`,
    ]);
    try {
      const virtio = machine.queryPci().filter((d) => d.vendorId === 0x1af4);
      expect(virtio.map((d) => [d.slot, d.deviceId, d.subsystem?.id, d.qdevId])).toEqual([
        [3, 0x1000, 1, ''], [4, 0x1001, 2, 'blk2'], [5, 0x1001, 2, ''], [6, 0x1001, 2, ''],
      ]);
      expect(virtio[0]!.regions.map((r) => [r.bar, r.type, r.size, r.mem64, r.prefetch])).toEqual([
        [0, 'io', 32, false, false], [1, 'memory', 4096, false, false], [4, 'memory', 16384, true, true],
      ]);
      expect(runHmpCommand(machine, 'info block')).toBe([
        `virtio0 (#block101): ${a} (raw)`,
        '    Attached to:      /machine/peripheral-anon/device[1]/virtio-backend',
        '    Cache mode:       writeback',
        '',
        `d2 (#block103): ${b} (raw)`,
        '    Attached to:      /machine/peripheral/blk2/virtio-backend',
        '    Cache mode:       writeback',
        '',
        `virtio1 (#block105): ${c} (raw, read-only)`,
        '    Attached to:      /machine/peripheral-anon/device[2]/virtio-backend',
        '    Cache mode:       writeback, direct',
      ].join('\n'));
      expect(runHmpCommand(machine, 'info network')).toBe([
        'virtio-net-pci.0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:56',
        ' \\ n0: index=0,type=user,net=10.0.2.0,restrict=off',
      ].join('\n'));
      const q = machine.queryBlock();
      expect(q[2]).toMatchObject({
        device: 'virtio1', locked: false, removable: false, type: 'unknown', 'io-status': 'ok',
        qdev: '/machine/peripheral-anon/device[2]/virtio-backend',
        inserted: { file: c, ro: true, drv: 'raw', cache: { writeback: true, direct: true, 'no-flush': false }, image: { 'virtual-size': 1 << 20, format: 'raw', filename: c } },
      });
    } finally {
      machine.close();
      setup.close();
    }
  });

  it('-nic user makes a NIC at slot 3 with the default MAC; a second NIC gets the next MAC', () => {
    const { machine, setup } = boot(['-nic', 'user,model=virtio-net-pci', '-device', 'virtio-net-pci']);
    try {
      expect(machine.queryPci().filter((d) => d.vendorId === 0x1af4).map((d) => d.slot)).toEqual([3, 4]);
      expect(runHmpCommand(machine, 'info network')).toBe([
        'virtio-net-pci.0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:56',
        ' \\ #net000: index=0,type=user,net=10.0.2.0,restrict=off',
        'virtio-net-pci.1: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:57',
      ].join('\n'));
    } finally {
      machine.close();
      setup.close();
    }
  });

  it('refuses drives it has no controller for and devices naming unknown drives or netdevs', () => {
    const a = img('x.img', 1 << 20);
    const err = (argv: string[]) => {
      try {
        boot(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(['-drive', `file=${a},format=raw`])).toMatch(/if=ide: only if=virtio and if=none/);
    expect(err(['-device', 'virtio-blk-pci,drive=nope'])).toBe("virtio-blk-pci: Property 'virtio-blk-pci.drive' can't find value 'nope'");
    expect(err(['-device', 'virtio-net-pci,netdev=nope'])).toBe("virtio-net-pci: Property 'virtio-net-pci.netdev' can't find value 'nope'");
    expect(err(['-device', 'virtio-net-pci,mac=zz'])).toMatch(/mac' doesn't take value 'zz'/);
  });

  it('closes the drives when the machine ends', () => {
    const a = img('y.img', 1 << 20);
    const { machine, setup } = boot(['-drive', `file=${a},if=virtio,format=raw`]);
    let closed = 0;
    const backend = setup.virtio.drives[0]!.backend;
    const orig = backend.close.bind(backend);
    backend.close = () => (closed++, orig());
    machine.quit();
    expect(closed).toBe(1);
    setup.close();
  });
});
