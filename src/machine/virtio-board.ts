/**
 * The virtio PCI functions of the board: virtio-blk-pci per drive and virtio-net-pci per
 * NIC, plugged into bus 0 at the slots the configuration chose (QEMU's order: NICs of
 * -nic/-net, then -device in command-line order, then `-drive if=virtio`, from 00:03.0 up —
 * 00:02.0 is QEMU's VGA), with the host back ends the CLI opened. Also the monitor's views:
 * `info block` / `query-block` and `info network`, and closing the back ends when the VM ends.
 */
import type { BlockBackend } from '../block/block-backend.js';
import type { NetBackend } from '../net/net-backend.js';
import type { Device } from './device.js';
import type { Logger } from './log.js';
import type { PhysicalMemory } from '../memory/physical-memory.js';
import type { PciBus } from '../../devices/pci/pci-bus.js';
import type { MsiSink } from '../../devices/pci/msi.js';
import { WiringError } from '../errors.js';
import { infoUsernet } from '../net/open-netdev.js';
import { VirtioPciDevice } from '../../devices/virtio/virtio-pci.js';
import { VirtioBlk, VIRTIO_BLK_PCI_CLASS } from '../../devices/virtio/virtio-blk.js';
import { VirtioNet, VIRTIO_NET_PCI_CLASS, formatMac } from '../../devices/virtio/virtio-net.js';

export type DriveCacheMode = 'writeback' | 'writethrough' | 'none' | 'directsync' | 'unsafe';

/** A `-device virtio-blk-pci` (or the one a `-drive if=virtio` implies). */
export interface VirtioBlkConfig {
  kind: 'virtio-blk-pci';
  slot: number;
  /** `-device …,id=` ('' when anonymous). */
  qdevId: string;
  /** QOM path of the device's virtio back end, as `info block` prints it. */
  qdevPath: string;
  /** The drive's block device name (`virtio0`, or the `-drive id=`). */
  drive: string;
}

/** A `-device virtio-net-pci` or a NIC of `-nic` / `-net nic`. */
export interface VirtioNetConfig {
  kind: 'virtio-net-pci';
  slot: number;
  qdevId: string;
  /** The NIC's net client name (`virtio-net-pci.0` or the id). */
  name: string;
  /** The netdev id it is connected to, if any. */
  netdev?: string;
  mac: number[];
}

export type VirtioDeviceConfig = VirtioBlkConfig | VirtioNetConfig;

/** An opened drive (MachineBackends.drives). */
export interface DriveBackend {
  /** Block device name: `virtio0`, or the `-drive id=`. */
  name: string;
  backend: BlockBackend;
  cache: DriveCacheMode;
  /** `-drive serial=`. */
  serial?: string;
}

/** One entry of QMP `query-block`, the members QEMU 7.2 returns for a drive. */
export interface BlockInfo {
  device: string;
  qdev?: string;
  locked: boolean;
  removable: boolean;
  type: 'unknown';
  'io-status'?: 'ok';
  inserted: {
    file: string;
    'node-name': string;
    ro: boolean;
    drv: string;
    backing_file_depth: number;
    encrypted: boolean;
    detect_zeroes: 'off';
    bps: number; bps_rd: number; bps_wr: number; iops: number; iops_rd: number; iops_wr: number;
    write_threshold: number;
    cache: { writeback: boolean; direct: boolean; 'no-flush': boolean };
    image: { filename: string; format: string; 'virtual-size': number; 'dirty-flag': boolean };
  };
}

export interface VirtioBoardDeps {
  bus: PciBus;
  memory: PhysicalMemory;
  msi: MsiSink;
  logger?: Logger;
}

export class VirtioBoard {
  readonly devices: VirtioPciDevice[] = [];
  private readonly blockUsers = new Map<string, string>();
  private readonly nics: { cfg: VirtioNetConfig; model: VirtioNet }[] = [];
  private closed = false;

  constructor(
    deps: VirtioBoardDeps,
    configs: readonly VirtioDeviceConfig[],
    private readonly drives: readonly DriveBackend[],
    private readonly netdevs: readonly NetBackend[],
  ) {
    const { bus, memory, msi, logger } = deps;
    const usedNetdevs = new Set<string>();
    configs.forEach((c) => {
      const id = `${c.kind}@${c.slot}`;
      let dev: VirtioPciDevice;
      if (c.kind === 'virtio-blk-pci') {
        const drive = drives.find((d) => d.name === c.drive);
        if (!drive) throw new WiringError(`${c.kind}: drive '${c.drive}' not found`);
        if (this.blockUsers.has(c.drive)) throw new WiringError(`Drive '${c.drive}' is already in use by another device`);
        this.blockUsers.set(c.drive, c.qdevPath);
        const writeback = drive.cache !== 'writethrough' && drive.cache !== 'directsync';
        const model = new VirtioBlk({ backend: drive.backend, writeback, ...(drive.serial !== undefined ? { serial: drive.serial } : {}) });
        dev = new VirtioPciDevice({ id, qdevId: c.qdevId, memory, msi, logger, classCode: VIRTIO_BLK_PCI_CLASS }, model);
      } else {
        let backend: NetBackend | undefined;
        if (c.netdev !== undefined) {
          backend = netdevs.find((n) => n.id === c.netdev);
          if (!backend) throw new WiringError(`Property '${c.kind}.netdev' can't find value '${c.netdev}'`);
          if (usedNetdevs.has(c.netdev)) throw new WiringError(`Property '${c.kind}.netdev' can't take value '${c.netdev}', it's in use`);
          usedNetdevs.add(c.netdev);
        }
        const model = new VirtioNet({ mac: c.mac, ...(backend ? { backend } : {}) });
        this.nics.push({ cfg: c, model });
        dev = new VirtioPciDevice({ id, qdevId: c.qdevId, memory, msi, logger, classCode: VIRTIO_NET_PCI_CLASS }, model);
      }
      bus.addDevice(dev, c.slot);
      this.devices.push(dev);
    });
  }

  /** The functions, for the machine's device list (reset, snapshots). */
  get deviceList(): Device[] {
    return this.devices;
  }

  /** QMP `query-block`. */
  queryBlock(): BlockInfo[] {
    return this.drives.map((d, i) => {
      const b = d.backend;
      const qdev = this.blockUsers.get(d.name);
      return {
        'io-status': 'ok' as const,
        device: d.name,
        locked: false,
        removable: false,
        inserted: {
          iops_rd: 0, detect_zeroes: 'off' as const,
          image: { 'virtual-size': b.sizeBytes, filename: b.fileName, format: b.format, 'dirty-flag': false },
          iops_wr: 0, ro: b.readOnly, 'node-name': blockNodeName(i), backing_file_depth: 0, drv: b.format,
          iops: 0, bps_wr: 0, write_threshold: 0, encrypted: false, bps: 0, bps_rd: 0,
          cache: cacheFlags(d.cache),
          file: b.fileName,
        },
        ...(qdev !== undefined ? { qdev } : {}),
        type: 'unknown' as const,
      };
    });
  }

  /** HMP `info network` (QEMU's hmp_info_network): each NIC with its peer, then lone netdevs. */
  infoNetwork(): string {
    const lines: string[] = [];
    const attached = new Set<string>();
    for (const { cfg, model } of this.nics) {
      lines.push(`${cfg.name}: index=0,type=nic,model=virtio-net-pci,macaddr=${formatMac(cfg.mac)}`);
      if (model.backend) {
        attached.add(model.backend.id);
        lines.push(` \\ ${model.backend.describe()}`);
      }
    }
    for (const n of this.netdevs) if (!attached.has(n.id)) lines.push(n.describe());
    return lines.join('\n');
  }

  /** HMP `info usernet`: each user-mode network's connection table (empty without one). */
  infoUsernet(): string {
    return infoUsernet(this.netdevs);
  }

  /** Flushes and closes every back end (the VM is over). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.drives) {
      try {
        d.backend.close();
      } catch {
        // A failing flush at exit cannot be reported to anyone but the log; keep closing.
      }
    }
    for (const n of this.netdevs) n.close();
  }
}

/** QEMU's generated node names look like `#block123`. */
function blockNodeName(index: number): string {
  return `#block${101 + 2 * index}`;
}

/** `query-block` cache flags of a `-drive cache=` mode (QEMU's blockdev cache options). */
export function cacheFlags(mode: DriveCacheMode): { writeback: boolean; direct: boolean; 'no-flush': boolean } {
  switch (mode) {
    case 'writeback': return { writeback: true, direct: false, 'no-flush': false };
    case 'writethrough': return { writeback: false, direct: false, 'no-flush': false };
    case 'none': return { writeback: true, direct: true, 'no-flush': false };
    case 'directsync': return { writeback: false, direct: true, 'no-flush': false };
    case 'unsafe': return { writeback: true, direct: false, 'no-flush': true };
  }
}

/** HMP `info block` from `query-block` (QEMU's print_block_info). */
export function formatInfoBlock(blocks: readonly BlockInfo[]): string {
  return blocks.map((b) => {
    const i = b.inserted;
    const lines = [`${b.device} (${i['node-name']}): ${i.file} (${i.drv}${i.ro ? ', read-only' : ''})`];
    if (b.qdev !== undefined) lines.push(`    Attached to:      ${b.qdev}`);
    const c = i.cache;
    lines.push(`    Cache mode:       ${c.writeback ? 'writeback' : 'writethrough'}${c.direct ? ', direct' : ''}${c['no-flush'] ? ', ignore flushes' : ''}`);
    return lines.join('\n');
  }).join('\n\n');
}
