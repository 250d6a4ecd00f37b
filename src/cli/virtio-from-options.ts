/**
 * Drives, netdevs and NICs of the command line → virtio PCI functions, as QEMU's pc machine
 * creates them:
 *   - `-nic TYPE,...` and `-net nic` + `-net TYPE` first (machine init, `pc_nic_init`), then
 *     `-device virtio-blk-pci|virtio-net-pci` in command-line order, then one virtio-blk-pci
 *     per `-drive if=virtio` (QEMU's drive_new queues them after the user's -device options);
 *   - each takes the first free slot from 00:03.0 (00:02.0 is QEMU's VGA), or `addr=`;
 *   - drive names `virtio<index>` (or the drive's id); NIC names `virtio-net-pci.<n>` (or the
 *     device id); MACs 52:54:00:12:34:56 upward for NICs without `mac=`.
 * `-snapshot` (or snapshot=on) opens every drive with a temporary overlay (src/block).
 *
 * Not supported (refused): `-drive if=ide|scsi|…` (no such controllers), NIC models other than
 * virtio (QEMU's default e1000 is replaced by virtio-net-pci with a warning), `-net` hubs with
 * several NICs.
 */
import { ConfigError } from '../errors.js';
import { BlockError } from '../block/block-backend.js';
import { openDrive } from '../block/open-drive.js';
import { openNetdev, type OpenedNetdev } from '../net/open-netdev.js';
import type { NetClock, NetTimer } from '../net/net-clock.js';
import type { CliOptions } from './options.js';
import type { DeviceSpec } from './option-specs.js';
import { KeyValueList } from './keyval.js';
import { parseNetdev, type NetdevSpec } from './netdev-spec.js';
import type { DriveBackend, VirtioDeviceConfig } from '../machine/virtio-board.js';
import { parseMac } from '../../devices/virtio/virtio-net.js';

/** The first slot QEMU's pc machine gives to -device functions with -nographic (VGA has 2). */
export const FIRST_FREE_PCI_SLOT = 3;
const QEMU_DEFAULT_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

export interface VirtioSetup {
  devices: VirtioDeviceConfig[];
  drives: DriveBackend[];
  netdevs: OpenedNetdev[];
  /** Gives the netdevs the machine's clock once it exists (their timers run on virtual time). */
  bindClock(clock: NetClock): void;
  /** Closes what was opened (on a configuration error after opening). */
  close(): void;
}

/** A NetClock whose target is set after the netdevs are opened (the Machine comes later). */
class LateNetClock implements NetClock {
  target: NetClock | undefined;
  nowNs(): number {
    return this.target ? this.target.nowNs() : 0;
  }
  createTimer(name: string, callback: (nowNs: number) => void): NetTimer {
    let timer: NetTimer | undefined;
    const get = (): NetTimer => {
      if (!this.target) throw new Error(`net timer ${name} armed before the machine exists`);
      timer ??= this.target.createTimer(name, callback);
      return timer;
    };
    return { modNs: (deadlineNs) => get().modNs(deadlineNs), del: () => timer?.del() };
  }
}

export function virtioFromOptions(opts: CliOptions, env: { warn(msg: string): void; netLog(line: string): void }): VirtioSetup {
  const drives: DriveBackend[] = [];
  const netdevs: OpenedNetdev[] = [];
  const devices: VirtioDeviceConfig[] = [];
  const clock = new LateNetClock();
  const close = () => {
    for (const d of drives) d.backend.close();
    for (const n of netdevs) n.close();
  };
  try {
    build();
  } catch (e) {
    close();
    throw e;
  }
  return { devices, drives, netdevs, bindClock: (c) => (clock.target = c), close };

  function build(): void {
    // --- drives ---
    const virtioDrives: string[] = [];
    for (const d of opts.drives) {
      const where = `-drive ${d.file ?? ''}`;
      if (d.interface !== 'virtio' && d.interface !== 'none') {
        throw new ConfigError(`-drive if=${d.interface}: only if=virtio and if=none drives are supported (pcvm has no ${d.interface} controller)`);
      }
      if (d.media === 'cdrom') throw new ConfigError(`${where}: media=cdrom is not supported yet`);
      if (d.file === undefined) throw new ConfigError(`${where}: a drive without file= (an empty drive) is not supported`);
      const name = d.id ?? (d.interface === 'virtio' ? `virtio${d.index}` : undefined);
      if (name === undefined) throw new ConfigError(`-drive if=none needs an id= for -device to refer to`);
      if (drives.some((x) => x.name === name)) throw new ConfigError(`Duplicate ID '${name}' for drive`);
      let backend;
      try {
        backend = openDrive({ file: d.file, ...(d.format !== undefined ? { format: d.format } : {}), readOnly: d.readOnly, snapshot: d.snapshot || opts.snapshot, cache: d.cache }, env.warn);
      } catch (e) {
        if (e instanceof BlockError) throw new ConfigError(e.message);
        throw e;
      }
      const serial = d.extra['serial'];
      drives.push({ name, backend, cache: d.cache, ...(serial !== undefined ? { serial } : {}) });
      if (d.interface === 'virtio') virtioDrives.push(name);
    }

    // --- netdevs, -nic, -net ---
    const open = (spec: NetdevSpec) => {
      if (netdevs.some((n) => n.id === spec.id)) throw new ConfigError(`Duplicate ID '${spec.id}' for netdev`);
      const n = openNetdev(spec, { log: env.netLog, clock });
      netdevs.push(n);
      return n;
    };
    for (const spec of opts.netdevs) open(spec);

    const used = new Set<number>();
    const slotOf = (props: DeviceSpec['props'], what: string): number => {
      const addr = props['addr'];
      if (addr !== undefined) {
        const m = /^(?:0x)?([0-9a-fA-F]{1,2})(?:\.0)?$/.exec(String(addr));
        const slot = m ? parseInt(m[1]!, 16) : NaN;
        if (!(slot >= 0 && slot <= 31)) throw new ConfigError(`${what}: Property '${what}.addr' doesn't take value '${String(addr)}'`);
        if (used.has(slot) || slot < FIRST_FREE_PCI_SLOT) throw new ConfigError(`${what}: PCI: slot ${slot} function 0 not available for ${what}, in use`);
        used.add(slot);
        return slot;
      }
      return -1; // assigned after the explicit ones
    };
    const pending: { cfg: VirtioDeviceConfig; auto: boolean }[] = [];
    let macIndex = 0;
    let nicIndex = 0;
    const macFor = (given: string | undefined, what: string): number[] => {
      if (given !== undefined) {
        const mac = parseMac(given);
        if (!mac) throw new ConfigError(`${what}: Property '${what}.mac' doesn't take value '${given}'`);
        return mac;
      }
      const mac = [...QEMU_DEFAULT_MAC];
      mac[5] = (mac[5]! + macIndex++) & 0xff;
      return mac;
    };
    const addNic = (netdev: string | undefined, mac: string | undefined, qdevId: string, slot: number) => {
      const name = qdevId || `virtio-net-pci.${nicIndex++}`;
      pending.push({ cfg: { kind: 'virtio-net-pci', slot, qdevId, name, mac: macFor(mac, 'virtio-net-pci'), ...(netdev !== undefined ? { netdev } : {}) }, auto: slot < 0 });
    };
    const nicModel = (model: string | undefined, where: string) => {
      if (model === undefined || model === 'e1000') {
        env.warn(`${where}: NIC model ${model ?? 'e1000 (the default)'} is not available; using virtio-net-pci`);
      } else if (model !== 'virtio' && model !== 'virtio-net-pci') {
        throw new ConfigError(`${where}: NIC model '${model}' is not supported (use model=virtio-net-pci)`);
      }
    };

    // -nic TYPE[,model=,mac=,netdev options]: a netdev named #netN and its NIC.
    opts.nics.forEach((nic, i) => {
      if (nic.type === 'none') return;
      const where = `-nic ${nic.type}`;
      nicModel(nic.options.get('model'), where);
      const id = `#net${String(i).padStart(3, '0')}`;
      const entries = nic.options.entries.filter((e) => !['type', 'model', 'mac', 'id'].includes(e.key));
      const spec = parseNetdev(nic.type, new KeyValueList([...entries, { key: 'id', value: id }], false));
      open(spec);
      addNic(id, nic.options.get('mac'), '', -1);
    });
    // -net nic[,model=,mac=] with -net TYPE: one NIC joined to one back end (QEMU's hub 0).
    const netNics = opts.net.filter((n) => n.type === 'nic');
    const netBackends = opts.net.filter((n) => n.type !== 'nic' && n.type !== 'none');
    if (netNics.length > 1 || netBackends.length > 1) throw new ConfigError('-net: more than one NIC or back end on the hub is not supported yet (use -netdev and -device)');
    if (netNics.length === 1) {
      const nic = netNics[0]!;
      nicModel(nic.options.get('model'), '-net nic');
      let id: string | undefined;
      if (netBackends.length === 1) {
        const b = netBackends[0]!;
        id = b.options.get('id') ?? '#net000';
        const entries = b.options.entries.filter((e) => !['type', 'id', 'vlan'].includes(e.key));
        open(parseNetdev(b.type, new KeyValueList([...entries, { key: 'id', value: id }], false)));
      }
      addNic(id, nic.options.get('mac'), '', -1);
    } else if (netBackends.length === 1) {
      env.warn('-net: a back end without -net nic has no NIC');
    }

    // -device virtio-blk-pci / virtio-net-pci, in order; anonymous ones are numbered for QOM paths.
    let anon = 0;
    for (const dev of opts.devices) {
      const qdevId = dev.id ?? '';
      const path = (n: number) => (dev.id !== undefined ? `/machine/peripheral/${dev.id}` : `/machine/peripheral-anon/device[${n}]`);
      const anonIndex = dev.id === undefined ? anon++ : -1;
      if (dev.driver === 'virtio-blk-pci') {
        const drive = dev.props['drive'];
        if (typeof drive !== 'string') throw new ConfigError("virtio-blk-pci: drive property not set");
        if (!drives.some((d) => d.name === drive)) throw new ConfigError(`virtio-blk-pci: Property 'virtio-blk-pci.drive' can't find value '${drive}'`);
        const slot = slotOf(dev.props, dev.driver);
        pending.push({ cfg: { kind: 'virtio-blk-pci', slot, qdevId, qdevPath: `${path(anonIndex)}/virtio-backend`, drive }, auto: slot < 0 });
      } else if (dev.driver === 'virtio-net-pci') {
        const netdev = dev.props['netdev'];
        if (netdev !== undefined && !netdevs.some((n) => n.id === netdev)) {
          throw new ConfigError(`virtio-net-pci: Property 'virtio-net-pci.netdev' can't find value '${String(netdev)}'`);
        }
        const mac = dev.props['mac'];
        addNic(netdev === undefined ? undefined : String(netdev), mac === undefined ? undefined : String(mac), qdevId, slotOf(dev.props, dev.driver));
      }
    }
    // -drive if=virtio: an implied anonymous -device virtio-blk-pci each.
    for (const name of virtioDrives) {
      pending.push({ cfg: { kind: 'virtio-blk-pci', slot: -1, qdevId: '', qdevPath: `/machine/peripheral-anon/device[${anon++}]/virtio-backend`, drive: name }, auto: true });
    }
    let next = FIRST_FREE_PCI_SLOT;
    for (const p of pending) {
      if (p.auto) {
        while (used.has(next)) next++;
        if (next > 31) throw new ConfigError(`${p.cfg.kind}: PCI: no slot/function available for ${p.cfg.kind}, all in use`);
        p.cfg.slot = next;
        used.add(next);
      }
      devices.push(p.cfg);
    }
  }
}
