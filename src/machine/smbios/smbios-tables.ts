/**
 * SMBIOS tables (DMTF DSP0134 2.8) as QEMU 7.2's hw/smbios/smbios.c builds them for
 * `-M pc` (pc-i440fx-7.2) and SeaBIOS 1.16 completes them: a 32-bit "_SM_" entry point, SMBIOS
 * 2.8, and the structures of types 0 (BIOS), 1 (System), 3 (Chassis), 4 (Processor, one per
 * socket), 16 (Physical Memory Array), 17 (Memory Device, one per 16 GiB), 19 (Memory Array
 * Mapped Address, one per RAM range), 32 (System Boot) and 127 (End-of-Table), with QEMU's
 * handles (type T at 0x100 * T, instance n at + n) and field values. Every value below was
 * checked against the tables QEMU 7.2 + SeaBIOS 1.16.2 leave in guest memory
 * (test/machine/smbios.test.ts compares with them when QEMU is installed).
 *
 * Type 0: QEMU builds it only when `-smbios type=0,…` is given, else SeaBIOS adds its own
 * (vendor "SeaBIOS", its version, date "04/01/2014"). Without a BIOS the board is the firmware,
 * so the default type 0 is the one SeaBIOS's smbios_new_type_0 lays out but with pcvm's own
 * identity (our choice: vendor "pcvm", version = pcvm's version, date = PCVM_BIOS_DATE).
 * `-smbios type=0,vendor=SeaBIOS,version=1.16.2-debian-1.16.2-1,date=04/01/2014` reproduces
 * QEMU's bytes except the characteristics extension byte 2, where QEMU's own type 0 sets the
 * "virtual machine" bit (0x14) and SeaBIOS's does not (0x04) — as in QEMU.
 *
 * Not implemented: -smbios types 2, 3, 4, 11, 17, 41 and file= (the CLI refuses them), SMBIOS
 * 3.0 entry points (`-machine smbios-entry-point-type=64`).
 */
import { ConfigError } from '../../errors.js';
import { LeBytes } from '../le-bytes.js';

/** The fields `-smbios type=0` sets (QEMU's type0 options). */
export interface SmbiosType0Config {
  vendor?: string;
  version?: string;
  date?: string;
  /** `release=MAJOR.MINOR`: the System BIOS major/minor release bytes. */
  release?: { major: number; minor: number };
  /** `uefi=on`: characteristics extension byte 2 bit 3 (UEFI supported). */
  uefi?: boolean;
}

/** The fields `-smbios type=1` sets (the UUID is separate: `uuid`). */
export interface SmbiosType1Config {
  manufacturer?: string;
  product?: string;
  version?: string;
  serial?: string;
  sku?: string;
  family?: string;
}

/** `-smbios` and `-uuid`, as plain data in MachineConfig. */
export interface SmbiosConfig {
  /** Present when `-smbios type=0` was given: QEMU then builds the type 0 itself. */
  type0?: SmbiosType0Config;
  type1?: SmbiosType1Config;
  /** `-uuid` / `-smbios type=1,uuid=`: 16 bytes in RFC 4122 (big-endian) order. */
  uuid?: readonly number[];
}

/** What the board contributes: machine identity, CPU, RAM ranges. */
export interface SmbiosBoardInfo {
  /** RAM size in bytes (`-m`). */
  memoryBytes: number;
  /** Guest-physical RAM ranges as the e820 map reports them (type 19 describes each). */
  ramRanges: readonly { base: number; length: number }[];
  /** CPUID.1:EAX and CPUID.1:EDX (type 4's Processor ID). */
  cpuidSignature: number;
  cpuidFeatureEdx: number;
  /** Sockets, cores per socket, threads per core (default 1, 1, 1). */
  sockets?: number;
  cores?: number;
  threads?: number;
  /** The firmware identity of the default type 0 (pcvm's version). */
  firmwareVersion: string;
}

/** QEMU's `smbios_set_defaults("QEMU", mc->desc, mc->name, …)` for pc-i440fx-7.2. */
export const SMBIOS_MANUFACTURER = 'QEMU';
export const SMBIOS_PRODUCT = 'Standard PC (i440FX + PIIX, 1996)';
export const SMBIOS_MACHINE_VERSION = 'pc-i440fx-7.2';
/** Our choice for the default type 0 (see the file header). */
export const PCVM_BIOS_VENDOR = 'pcvm';
/** Our choice: a fixed date, so the tables are the same on every run ("MM/DD/YYYY", 7.1.3). */
export const PCVM_BIOS_DATE = '01/01/2026';
/** QEMU's DEFAULT_CPU_SPEED (MHz) for type 4's Max and Current Speed. */
const CPU_SPEED_MHZ = 2000;
/** QEMU's MAX_DIMM_SZ: one type 17 per 16 GiB of RAM. */
const MAX_DIMM_BYTES = 16 * 1024 ** 3;

const KIB = 1024;
const MIB = 1024 * 1024;

/** A structure: formatted area (header included) then its string set. */
class StructureWriter extends LeBytes {
  private readonly strings: string[] = [];

  constructor(type: number, handle: number) {
    super();
    this.u8(type).u8(0).u16(handle);
  }

  /** A string field: its 1-based number in the string set, or 0 for none (empty = none, as QEMU). */
  str(s: string | undefined): this {
    if (s === undefined || s === '') return this.u8(0);
    this.strings.push(s);
    return this.u8(this.strings.length);
  }

  /** The structure: length byte set, strings NUL-terminated, double NUL at the end (6.1.3). */
  finish(): Uint8Array {
    this.b[1] = this.b.length;
    const out = [...this.b];
    for (const s of this.strings) {
      for (const b of new TextEncoder().encode(s)) out.push(b); // the bytes as given, as QEMU copies them
      out.push(0);
    }
    if (this.strings.length === 0) out.push(0);
    out.push(0);
    return new Uint8Array(out);
  }
}

/** Structures with QEMU's handles: type T instance n at T_BASE + n. */
const enum Handle {
  T0 = 0x000, T1 = 0x100, T3 = 0x300, T4 = 0x400, T16 = 0x1000, T17 = 0x1100, T19 = 0x1300, T32 = 0x2000, T127 = 0x7f00,
}

/** Type 0, BIOS Information (7.1): SeaBIOS's layout, or QEMU's when `-smbios type=0` is given. */
function type0(cfg: SmbiosType0Config | undefined, firmwareVersion: string): Uint8Array {
  const byQemu = cfg !== undefined;
  const w = new StructureWriter(0, Handle.T0);
  w.str(byQemu ? cfg.vendor : PCVM_BIOS_VENDOR);
  w.str(byQemu ? cfg.version : firmwareVersion);
  w.u16(0xe800); // BIOS starting address segment (SeaBIOS's value, QEMU copies it)
  w.str(byQemu ? cfg.date : PCVM_BIOS_DATE);
  w.u8(0); // BIOS ROM size: 0 in SeaBIOS and QEMU
  w.u64(0x08); // characteristics: bit 3 "not supported"
  w.u8(0); // extension byte 1
  // Extension byte 2: bit 2 targeted content distribution; QEMU adds bit 4 (virtual machine)
  // and bit 3 (UEFI) with uefi=on.
  w.u8(byQemu ? 0x14 | (cfg.uefi ? 0x08 : 0) : 0x04);
  w.u8(cfg?.release?.major ?? 0).u8(cfg?.release?.minor ?? 0);
  w.u8(0xff).u8(0xff); // embedded controller release: none
  return w.finish();
}

/** UUIDs are stored with the first three fields little-endian (7.2.1, SMBIOS 2.6+). */
function encodeUuid(uuid: readonly number[] | undefined): number[] {
  if (uuid === undefined) return new Array<number>(16).fill(0);
  if (uuid.length !== 16) throw new ConfigError('SMBIOS UUID must be 16 bytes');
  const u = [...uuid];
  return [u[3]!, u[2]!, u[1]!, u[0]!, u[5]!, u[4]!, u[7]!, u[6]!, ...u.slice(8)];
}

/** Type 1, System Information (7.2). */
function type1(cfg: SmbiosType1Config, uuid: readonly number[] | undefined): Uint8Array {
  const w = new StructureWriter(1, Handle.T1);
  w.str(cfg.manufacturer ?? SMBIOS_MANUFACTURER).str(cfg.product ?? SMBIOS_PRODUCT);
  w.str(cfg.version ?? SMBIOS_MACHINE_VERSION).str(cfg.serial);
  w.bytes(encodeUuid(uuid));
  w.u8(0x06); // wake-up type: power switch
  w.str(cfg.sku).str(cfg.family);
  return w.finish();
}

/** Type 3, System Enclosure (7.4). */
function type3(): Uint8Array {
  const w = new StructureWriter(3, Handle.T3);
  w.str(SMBIOS_MANUFACTURER).u8(0x01); // type: other
  w.str(SMBIOS_MACHINE_VERSION).str(undefined).str(undefined); // version, serial, asset tag
  w.u8(0x03).u8(0x03).u8(0x03).u8(0x02); // boot-up, power supply, thermal: safe; security: unknown
  w.u32(0); // OEM defined
  w.u8(0).u8(0).u8(0).u8(0); // height, power cords, contained elements (count, record length)
  w.str(undefined); // SKU
  return w.finish();
}

/** Type 4, Processor Information (7.5), one per socket: socket "CPU%2x" as QEMU's printf. */
function type4(instance: number, b: SmbiosBoardInfo): Uint8Array {
  const cores = b.cores ?? 1;
  const threadsPerSocket = cores * (b.threads ?? 1);
  const w = new StructureWriter(4, Handle.T4 + instance);
  w.str(`CPU${instance.toString(16).padStart(2, ' ')}`);
  w.u8(0x03); // central processor
  w.u8(0x01); // family: other
  w.str(SMBIOS_MANUFACTURER);
  w.u32(b.cpuidSignature >>> 0).u32(b.cpuidFeatureEdx >>> 0); // processor ID: CPUID.1 EAX, EDX
  w.str(SMBIOS_MACHINE_VERSION);
  w.u8(0); // voltage
  w.u16(0); // external clock: unknown
  w.u16(CPU_SPEED_MHZ).u16(CPU_SPEED_MHZ);
  w.u8(0x41); // socket populated, CPU enabled
  w.u8(0x01); // upgrade: other
  w.u16(0xffff).u16(0xffff).u16(0xffff); // L1/L2/L3 cache handles: none
  w.str(undefined).str(undefined).str(undefined); // serial, asset tag, part number
  w.u8(Math.min(cores, 0xff)).u8(Math.min(cores, 0xff)).u8(Math.min(threadsPerSocket, 0xff));
  w.u16(0x02); // characteristics: unknown
  w.u16(0x01); // family 2: other
  return w.finish();
}

/** Type 16, Physical Memory Array (7.17). */
function type16(memoryBytes: number, dimms: number): Uint8Array {
  const w = new StructureWriter(16, Handle.T16);
  w.u8(0x01).u8(0x03).u8(0x06); // location other, use system memory, multi-bit ECC
  const kib = Math.ceil(memoryBytes / KIB);
  if (kib < 0x80000000) w.u32(kib);
  else w.u32(0x80000000);
  w.u16(0xfffe); // memory error information: not provided
  w.u16(dimms);
  w.u64(kib < 0x80000000 ? 0 : memoryBytes); // extended maximum capacity, bytes
  return w.finish();
}

/** Type 17, Memory Device (7.18), "DIMM n" of up to 16 GiB. */
function type17(instance: number, sizeBytes: number): Uint8Array {
  const w = new StructureWriter(17, Handle.T17 + instance);
  w.u16(Handle.T16).u16(0xfffe); // array handle, error information: not provided
  w.u16(0xffff).u16(0xffff); // total and data width: unknown
  const mib = Math.ceil(sizeBytes / MIB);
  w.u16(mib < 0x7fff ? mib : 0x7fff);
  w.u8(0x09).u8(0); // form factor DIMM, device set none
  w.str(`DIMM ${instance}`).str(undefined); // device locator, bank locator
  w.u8(0x07).u16(0x02); // type RAM, type detail other
  w.u16(0); // speed: unknown
  w.str(SMBIOS_MANUFACTURER).str(undefined).str(undefined).str(undefined); // serial, asset, part
  w.u8(0); // attributes: rank unknown
  w.u32(mib < 0x7fff ? 0 : mib); // extended size, MiB
  w.u16(0); // configured memory clock speed: unknown
  w.u16(0).u16(0).u16(0); // minimum, maximum, configured voltage: unknown
  return w.finish();
}

/** Type 19, Memory Array Mapped Address (7.20), addresses in KiB or, past 4 TiB, in bytes. */
function type19(instance: number, base: number, length: number): Uint8Array {
  const w = new StructureWriter(19, Handle.T19 + instance);
  const startKib = Math.floor(base / KIB);
  const endKib = Math.floor((base + length) / KIB) - 1;
  const extended = endKib > 0xffffffff;
  w.u32(extended ? 0xffffffff : startKib).u32(extended ? 0xffffffff : endKib);
  w.u16(Handle.T16).u8(1); // array handle, partition width
  w.u64(extended ? base : 0).u64(extended ? base + length - 1 : 0);
  return w.finish();
}

/** Type 32, System Boot Information (7.33): no errors detected. */
function type32(): Uint8Array {
  return new StructureWriter(32, Handle.T32).bytes([0, 0, 0, 0, 0, 0]).u8(0).finish();
}

/** The structure table and the fields of its entry point. */
export interface SmbiosStructureTable {
  table: Uint8Array;
  count: number;
  /** The largest structure, string set included (entry point offset 08h). */
  maxStructureBytes: number;
}

/** Every structure, in QEMU's order (type 0 first, as SeaBIOS inserts it). */
export function buildSmbiosStructures(cfg: SmbiosConfig, b: SmbiosBoardInfo): SmbiosStructureTable {
  const dimms = Math.max(1, Math.ceil(b.memoryBytes / MAX_DIMM_BYTES));
  const structs: Uint8Array[] = [type0(cfg.type0, b.firmwareVersion), type1(cfg.type1 ?? {}, cfg.uuid), type3()];
  for (let i = 0; i < (b.sockets ?? 1); i++) structs.push(type4(i, b));
  structs.push(type16(b.memoryBytes, dimms));
  for (let i = 0; i < dimms; i++) {
    structs.push(type17(i, i < dimms - 1 ? MAX_DIMM_BYTES : ((b.memoryBytes - 1) % MAX_DIMM_BYTES) + 1));
  }
  b.ramRanges.forEach((r, i) => structs.push(type19(i, r.base, r.length)));
  structs.push(type32());
  structs.push(new StructureWriter(127, Handle.T127).finish());
  const length = structs.reduce((n, s) => n + s.length, 0);
  if (length > 0xffff) throw new ConfigError(`SMBIOS tables need ${length} bytes; a 2.x entry point allows 65535`);
  const table = new Uint8Array(length);
  let at = 0;
  for (const s of structs) {
    table.set(s, at);
    at += s.length;
  }
  return { table, count: structs.length, maxStructureBytes: Math.max(...structs.map((s) => s.length)) };
}

/** SMBIOS 2.8 (QEMU 7.2's 32-bit entry point). */
const SMBIOS_MAJOR = 2;
const SMBIOS_MINOR = 8;
export const SMBIOS_ENTRY_POINT_BYTES = 0x1f;

/** Sets `b[at]` so the bytes `b[from..from+n)` sum to 0 (mod 256). */
function checksum(b: Uint8Array, from: number, n: number, at: number): void {
  b[at] = 0;
  let sum = 0;
  for (let i = from; i < from + n; i++) sum += b[i]!;
  b[at] = (0x100 - (sum & 0xff)) & 0xff;
}

/** The 32-bit entry point (5.2.1, Table 1) for a table at `tableAddress`. */
export function buildSmbiosEntryPoint(t: SmbiosStructureTable, tableAddress: number): Uint8Array {
  const ep = new Uint8Array(SMBIOS_ENTRY_POINT_BYTES);
  const v = new DataView(ep.buffer);
  ep.set([0x5f, 0x53, 0x4d, 0x5f], 0); // "_SM_"
  ep[0x05] = SMBIOS_ENTRY_POINT_BYTES;
  ep[0x06] = SMBIOS_MAJOR;
  ep[0x07] = SMBIOS_MINOR;
  v.setUint16(0x08, t.maxStructureBytes, true);
  ep[0x0a] = 0; // entry point revision 0: formatted area reserved
  ep.set([0x5f, 0x44, 0x4d, 0x49, 0x5f], 0x10); // "_DMI_"
  v.setUint16(0x16, t.table.length, true);
  v.setUint32(0x18, tableAddress >>> 0, true);
  v.setUint16(0x1c, t.count, true);
  ep[0x1e] = (SMBIOS_MAJOR << 4) | SMBIOS_MINOR; // BCD revision
  checksum(ep, 0x10, 0x0f, 0x15); // intermediate checksum over the _DMI_ part
  checksum(ep, 0, SMBIOS_ENTRY_POINT_BYTES, 0x04);
  return ep;
}
