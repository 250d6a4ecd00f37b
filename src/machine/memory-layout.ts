/**
 * The PC's physical memory map (as QEMU's i440FX `pc` machine lays it out):
 *
 *   0x00000000-0x0009FFFF  conventional RAM (640 KiB)
 *   0x000A0000-0x000BFFFF  VGA window (unassigned until a VGA device exists)
 *   0x000C0000-0x000DFFFF  option ROM area: RAM here (QEMU maps RAM under PAM control)
 *   0x000E0000-0x000FFFFF  BIOS: the last 128 KiB (or less) of the BIOS image, read-only
 *                          (RAM during direct kernel boot, where the RSDP goes)
 *   0x00100000-…           RAM up to min(size, 3.5 GiB)  (QEMU's below_4g_mem_size for pc)
 *   …-0xFFFFFFFF           PCI hole: MMIO (LAPIC 0xFEE00000, IOAPIC 0xFEC00000), BIOS at the top
 *   0x100000000-…          the rest of RAM
 *
 * XXX: the E0000-FFFFF alias is read-only ROM; SeaBIOS-style shadowing through the PAM
 * registers comes with the PCI host bridge.
 */
import { PAGE_SIZE, PhysicalMemory } from '../memory/physical-memory.js';
import { ConfigError } from '../errors.js';

/** RAM above this goes above 4 GiB (QEMU pc: 3.5 GiB when RAM exceeds it… simplified to a fixed split). */
export const BELOW_4G_RAM_MAX = 0xe0000000;
const FOUR_GIB = 0x1_0000_0000;
const BIOS_LOW_WINDOW = 0x20000; // 128 KiB at 0xE0000

/**
 * `directBoot`: the board loads the kernel itself and no BIOS runs, so 0xE0000-0xFFFFF is RAM
 * instead of the read-only BIOS alias — the firmware tables (the ACPI RSDP) live there, as a
 * BIOS would have put them in its shadowed copy. e820Map reports 0xF0000-0xFFFFF reserved
 * either way.
 */
export function layoutMemory(memoryBytes: number, bios: Uint8Array, directBoot = false): PhysicalMemory {
  if (bios.length === 0 || bios.length % PAGE_SIZE !== 0 || bios.length > 16 * 1024 * 1024) {
    throw new ConfigError(`BIOS image size ${bios.length} is not a multiple of 4 KiB up to 16 MiB`);
  }
  if (memoryBytes < 1024 * 1024) throw new ConfigError('at least 1 MiB of RAM is needed');
  const mem = new PhysicalMemory(memoryBytes);
  const below = Math.min(memoryBytes, BELOW_4G_RAM_MAX);
  // Conventional memory, then everything from 0xC0000 except the BIOS window.
  mem.mapRam(0, 0xa0000, 0);
  mem.mapRam(0xc0000, 0x20000, 0xc0000);
  if (below > 0x100000) mem.mapRam(0x100000, below - 0x100000, 0x100000);
  if (memoryBytes > below) mem.mapRam(FOUR_GIB, memoryBytes - below, below);
  // The BIOS at the top of 4 GiB, and its last 128 KiB (or all of it) below 1 MiB.
  mem.mapRom('pc.bios', FOUR_GIB - bios.length, bios);
  if (directBoot) {
    mem.mapRam(0xe0000, BIOS_LOW_WINDOW, 0xe0000);
    return mem;
  }
  const low = Math.min(bios.length, BIOS_LOW_WINDOW);
  mem.mapRom('isa-bios', 0x100000 - low, bios.subarray(bios.length - low));
  if (low < BIOS_LOW_WINDOW) mem.mapRam(0xe0000, BIOS_LOW_WINDOW - low, 0xe0000);
  return mem;
}

/** Size of the region at the top of RAM below 4 GiB where the board's ACPI tables live. */
export const ACPI_TABLES_SIZE = 0x10000;
/** The RSDP lives in the BIOS area, where ACPI says an OS searches for it (0xE0000-0xFFFFF). */
export const ACPI_RSDP_ADDR = 0xf5000;
/**
 * The SMBIOS entry point, 16-byte aligned in 0xF0000-0xFFFFF where an OS searches for it
 * (DSP0134 5.2.1), after the RSDP; the structure table follows it (src/machine/smbios/).
 */
export const SMBIOS_ENTRY_ADDR = 0xf5100;
/** Extended BIOS data area: the last KiB of conventional memory, reserved as SeaBIOS leaves it. */
export const EBDA_BASE = 0x9fc00;

/** Where the ACPI tables start: the last 64 KiB of RAM below 4 GiB. */
export function acpiTablesBase(memoryBytes: number): number {
  return Math.min(memoryBytes, BELOW_4G_RAM_MAX) - ACPI_TABLES_SIZE;
}

/** e820 entry types (ACPI 6.5 Table 15.312). */
export const enum E820Type {
  RAM = 1,
  RESERVED = 2,
  ACPI = 3,
}

export interface E820Entry {
  base: number;
  length: number;
  type: E820Type;
}

/**
 * The memory map a firmware reports for this board (what boot_params' e820 table and the
 * multiboot memory map carry): conventional RAM below the EBDA, the BIOS area reserved, RAM
 * from 1 MiB to the ACPI tables, the tables as ACPI-reclaimable, the BIOS below 4 GiB
 * reserved, and RAM above 4 GiB.
 */
export function e820Map(memoryBytes: number): E820Entry[] {
  const below = Math.min(memoryBytes, BELOW_4G_RAM_MAX);
  const acpi = acpiTablesBase(memoryBytes);
  const map: E820Entry[] = [
    { base: 0, length: EBDA_BASE, type: E820Type.RAM },
    { base: EBDA_BASE, length: 0xa0000 - EBDA_BASE, type: E820Type.RESERVED },
    { base: 0xf0000, length: 0x10000, type: E820Type.RESERVED },
    { base: 0x100000, length: acpi - 0x100000, type: E820Type.RAM },
    { base: acpi, length: below - acpi, type: E820Type.ACPI },
    { base: 0xfffc0000, length: 0x40000, type: E820Type.RESERVED },
  ];
  if (memoryBytes > below) map.push({ base: FOUR_GIB, length: memoryBytes - below, type: E820Type.RAM });
  return map;
}
