/**
 * `-smbios` and `-uuid` (QEMU 7.2's hw/smbios/smbios.c `smbios_entry_add` and softmmu/vl.c):
 * each `-smbios type=0|1,…` sets the fields it names and keeps the others; `uuid=` and `-uuid`
 * both set the one machine UUID, the last on the command line winning. Errors are QEMU's
 * messages (the caller prefixes the option).
 *
 * Not implemented: `file=` (a binary structure file) and types 2, 3, 4, 11, 17 and 41, which
 * QEMU also takes: they are refused with a message that says so.
 */
import { ConfigError } from '../errors.js';
import { checkKeys, parseBool, parseKeyValueList, parseNumber } from './keyval.js';
import type { SmbiosConfig, SmbiosType0Config, SmbiosType1Config } from '../machine/smbios/smbios-tables.js';

const TYPE0_KEYS = ['type', 'vendor', 'version', 'date', 'release', 'uefi'] as const;
const TYPE1_KEYS = ['type', 'manufacturer', 'product', 'version', 'serial', 'uuid', 'sku', 'family'] as const;
/** Types QEMU 7.2 builds from options that pcvm does not yet. */
const QEMU_ONLY_TYPES = [2, 3, 4, 11, 17, 41];

/**
 * A UUID in QEMU's `qemu_uuid_parse` syntax (8-4-4-4-12 hex digits), as 16 bytes in RFC 4122
 * order; undefined when malformed.
 */
export function parseUuid(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text)) return undefined;
  const hex = text.replace(/-/g, '');
  return Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

/** `-uuid TEXT` into `cfg`. */
export function applyUuidOption(cfg: SmbiosConfig, text: string): void {
  const uuid = parseUuid(text);
  if (uuid === undefined) throw new ConfigError('failed to parse UUID string: wrong format');
  cfg.uuid = uuid;
}

/** One `-smbios` argument into `cfg`. */
export function applySmbiosOption(cfg: SmbiosConfig, arg: string): void {
  const kv = parseKeyValueList(arg);
  if (kv.has('file')) throw new ConfigError('-smbios file= (a binary SMBIOS file) is not supported yet');
  const typeText = kv.get('type');
  if (typeText === undefined) throw new ConfigError('Must specify type= or file=');
  const type = parseNumber('type', typeText);
  const set = <T extends object>(dest: T, keys: readonly string[]): void => {
    for (const k of keys) {
      const v = kv.get(k);
      if (v !== undefined && k !== 'type') (dest as Record<string, unknown>)[k] = v;
    }
  };
  if (type === 0) {
    checkKeys(kv, TYPE0_KEYS);
    const t0: SmbiosType0Config = cfg.type0 ?? {};
    set(t0, ['vendor', 'version', 'date']);
    const release = kv.get('release');
    if (release !== undefined) {
      // sscanf("%hhu.%hhu"): two unsigned numbers around a dot, each kept modulo 256.
      const m = /^\s*\+?(\d+)\.\s*\+?(\d+)/.exec(release);
      if (!m) throw new ConfigError('Invalid release');
      t0.release = { major: Number(BigInt(m[1]!) & 0xffn), minor: Number(BigInt(m[2]!) & 0xffn) };
    }
    const uefi = kv.get('uefi');
    if (uefi !== undefined) t0.uefi = parseBool('uefi', uefi);
    cfg.type0 = t0;
    return;
  }
  if (type === 1) {
    checkKeys(kv, TYPE1_KEYS);
    const uuidText = kv.get('uuid');
    const uuid = uuidText === undefined ? undefined : parseUuid(uuidText);
    if (uuidText !== undefined && uuid === undefined) throw new ConfigError('Invalid UUID');
    const t1: SmbiosType1Config = cfg.type1 ?? {};
    set(t1, ['manufacturer', 'product', 'version', 'serial', 'sku', 'family']);
    cfg.type1 = t1;
    if (uuid !== undefined) cfg.uuid = uuid;
    return;
  }
  if (QEMU_ONLY_TYPES.includes(type)) throw new ConfigError(`SMBIOS type ${type} fields are not supported yet (only types 0 and 1)`);
  throw new ConfigError(`Don't know how to build fields for SMBIOS type ${type}`);
}
