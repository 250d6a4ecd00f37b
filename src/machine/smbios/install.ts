/**
 * Places the SMBIOS tables in guest RAM as SeaBIOS does for small tables: the entry point on a
 * 16-byte boundary in the BIOS area (SMBIOS_ENTRY_ADDR, where Linux's dmi_scan_machine and
 * dmidecode search 0xF0000-0xFFFFF) and the structure table right after it, in the reserved
 * 0xF0000-0xFFFFF range of the e820 map. Needs that range to be RAM (direct kernel boot).
 */
import type { PhysicalMemory } from '../../memory/physical-memory.js';
import { ConfigError } from '../../errors.js';
import { BELOW_4G_RAM_MAX, SMBIOS_ENTRY_ADDR } from '../memory-layout.js';
import {
  SMBIOS_ENTRY_POINT_BYTES, buildSmbiosEntryPoint, buildSmbiosStructures, type SmbiosBoardInfo, type SmbiosConfig,
} from './smbios-tables.js';

/** The end of the BIOS area below 1 MiB. */
const BIOS_AREA_END = 0x100000;

/** The bytes to write: `entryPoint` at `entryAddress`, `table` at `tableAddress`. */
export interface SmbiosImage {
  entryAddress: number;
  entryPoint: Uint8Array;
  tableAddress: number;
  table: Uint8Array;
}

/** Builds the tables for a board (pure; the Machine builds them once, from its config). */
export function buildSmbiosImage(cfg: SmbiosConfig, board: SmbiosBoardInfo): SmbiosImage {
  const structures = buildSmbiosStructures(cfg, board);
  const tableAddress = SMBIOS_ENTRY_ADDR + Math.ceil(SMBIOS_ENTRY_POINT_BYTES / 16) * 16;
  if (tableAddress + structures.table.length > BIOS_AREA_END) {
    throw new ConfigError(`SMBIOS tables need ${structures.table.length} bytes; the BIOS area has ${BIOS_AREA_END - tableAddress}`);
  }
  return {
    entryAddress: SMBIOS_ENTRY_ADDR,
    entryPoint: buildSmbiosEntryPoint(structures, tableAddress),
    tableAddress,
    table: structures.table,
  };
}

/** Writes the tables into guest RAM (at power-on and after every reset, like the ACPI tables). */
export function installSmbios(mem: PhysicalMemory, image: SmbiosImage): void {
  mem.writeBytes(image.tableAddress, image.table);
  mem.writeBytes(image.entryAddress, image.entryPoint);
}

/**
 * The RAM ranges type 19 describes: what QEMU passes smbios_get_tables (the E820_RAM entries of
 * its fw_cfg e820 table: all RAM below 4 GiB from 0, and the rest from 4 GiB), with this
 * board's split (memory-layout.ts).
 */
export function smbiosRamRanges(memoryBytes: number): { base: number; length: number }[] {
  const below = Math.min(memoryBytes, BELOW_4G_RAM_MAX);
  const ranges = [{ base: 0, length: below }];
  if (memoryBytes > below) ranges.push({ base: 0x1_0000_0000, length: memoryBytes - below });
  return ranges;
}
