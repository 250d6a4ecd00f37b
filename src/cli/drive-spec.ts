/**
 * Disk drives: the `DriveSpec` of `-drive`, `-hda`..`-hdd`, `-cdrom` and a bare image argument,
 * and `parseDrive`, which validates a `-drive` option list and resolves its bus and unit as
 * QEMU's `drive_new` does.
 */

import { ConfigError } from '../errors.js';
import { checkKeys, optBool, optEnum, optNumber, type KeyValueList } from './keyval.js';

/** `-drive ...`, `-hda`..`-hdd`, `-cdrom`, or a bare disk-image argument. */
export interface DriveSpec {
  readonly file?: string;
  /** `if=`: the bus; `ide` for pc when not given (QEMU's IF_DEFAULT). */
  readonly interface: 'ide' | 'scsi' | 'floppy' | 'pflash' | 'mtd' | 'sd' | 'virtio' | 'none' | 'xen';
  /** Resolved as QEMU does: bus = index / units-per-bus, unit = index % units-per-bus. */
  readonly bus: number;
  readonly unit: number;
  readonly index: number;
  readonly media: 'disk' | 'cdrom';
  readonly format?: string;
  readonly readOnly: boolean;
  readonly snapshot: boolean;
  readonly cache: 'writeback' | 'writethrough' | 'none' | 'directsync' | 'unsafe';
  readonly id?: string;
  readonly aio?: 'threads' | 'native' | 'io_uring';
  /** Keys pcvm does not interpret but QEMU accepts (serial=, werror=, discard=, ...). */
  readonly extra: Readonly<Record<string, string>>;
}

const DRIVE_KEYS = [
  'file', 'if', 'bus', 'unit', 'index', 'media', 'snapshot', 'cache', 'aio', 'format', 'readonly',
  'read-only', 'id', 'serial', 'addr', 'werror', 'rerror', 'copy-on-read', 'discard',
  'detect-zeroes', 'cache.direct', 'cache.no-flush', 'node-name', 'driver', 'auto-read-only',
];
const DRIVE_FORMATS = [
  'raw', 'qcow2', 'qcow', 'vmdk', 'vdi', 'vpc', 'vhdx', 'qed', 'dmg', 'cloop', 'bochs', 'parallels',
  'luks', 'vvfat', 'host_device', 'host_cdrom', 'file', 'nbd', 'http', 'https', 'null-co', 'blkdebug',
];
type DriveInterface = DriveSpec['interface'];
const DRIVE_INTERFACES: readonly DriveInterface[] = ['ide', 'scsi', 'floppy', 'pflash', 'mtd', 'sd', 'virtio', 'none', 'xen'];
/** Units per bus (QEMU's `if_max_devs`): ide 2, scsi 7; 0 = one bus, any unit. */
const UNITS_PER_BUS: Readonly<Partial<Record<DriveInterface, number>>> = { ide: 2, scsi: 7 };

export function parseDrive(kv: KeyValueList, taken: ReadonlySet<string>): DriveSpec {
  const format = kv.get('format');
  checkKeys(kv, DRIVE_KEYS, (k) => `Block format '${format ?? 'raw'}' does not support the option '${k}'`);
  const iface = optEnum(kv, 'if', DRIVE_INTERFACES, (v) => `unsupported bus type '${v}'`) ?? 'ide';
  const media = optEnum(kv, 'media', ['disk', 'cdrom'] as const, (v) => `'${v}' invalid media`) ?? 'disk';
  const cache = optEnum(kv, 'cache', ['writeback', 'writethrough', 'none', 'directsync', 'unsafe'] as const, () => 'invalid cache option') ?? 'writeback';
  const aio = optEnum(kv, 'aio', ['threads', 'native', 'io_uring'] as const, (v) => `invalid aio option '${v}'`);
  if (format !== undefined && !DRIVE_FORMATS.includes(format)) throw new ConfigError(`Unknown driver '${format}'`);
  const readOnly = optBool(kv, 'readonly', false, 'read-only') || optBool(kv, 'read-only', false);
  const snapshot = optBool(kv, 'snapshot', false);
  const index = optNumber(kv, 'index');
  const busGiven = optNumber(kv, 'bus');
  const unitGiven = optNumber(kv, 'unit');
  const maxDevs = UNITS_PER_BUS[iface] ?? 0;
  let bus = busGiven ?? 0;
  let unit: number;
  if (index !== undefined) {
    if (busGiven !== undefined || unitGiven !== undefined) throw new ConfigError('index cannot be used with bus and unit');
    bus = maxDevs ? Math.floor(index / maxDevs) : 0;
    unit = maxDevs ? index % maxDevs : index;
  } else if (unitGiven !== undefined) {
    unit = unitGiven;
  } else {
    unit = 0;
    while (taken.has(`${iface}/${bus}/${unit}`)) {
      unit++;
      if (maxDevs && unit >= maxDevs) { unit -= maxDevs; bus++; }
    }
  }
  if (maxDevs && unit >= maxDevs) throw new ConfigError(`unit ${unit} too big (max is ${maxDevs - 1})`);
  if (taken.has(`${iface}/${bus}/${unit}`)) {
    throw new ConfigError(`drive with bus=${bus}, unit=${unit} (index=${index ?? -1}) exists`);
  }
  const extra: Record<string, string> = {};
  const interpreted = ['file', 'if', 'bus', 'unit', 'index', 'media', 'snapshot', 'cache', 'aio', 'format', 'readonly', 'read-only', 'id'];
  for (const { key, value } of kv.entries) if (!interpreted.includes(key)) extra[key] = value;
  const file = kv.get('file');
  const id = kv.get('id');
  return {
    interface: iface, bus, unit, index: maxDevs ? bus * maxDevs + unit : unit, media, readOnly: readOnly || media === 'cdrom',
    snapshot, cache, extra,
    ...(file !== undefined ? { file } : {}), ...(format !== undefined ? { format } : {}),
    ...(id !== undefined ? { id } : {}), ...(aio !== undefined ? { aio } : {}),
  };
}
