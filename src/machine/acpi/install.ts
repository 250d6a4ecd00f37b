/**
 * Builds the board's ACPI tables and writes them into guest RAM, as firmware does before an
 * OS starts: the tables in the ACPI-reclaimable region at the top of RAM below 4 GiB
 * (memory-layout.ts: acpiTablesBase, reported as type 3 by e820Map) and the RSDP at
 * ACPI_RSDP_ADDR in the BIOS area, where an OS searches for it (ACPI 6.5 5.2.5.1).
 *
 * Layout from the region's start: FACS (64-byte aligned, 5.2.10), DSDT, FADT, MADT, the HPET
 * table when there is an HPET, RSDT, XSDT, each 16-byte aligned. The RSDT/XSDT list the FADT,
 * the MADT and the HPET table (QEMU's order); the FADT points at the FACS and the DSDT.
 */
import type { PhysicalMemory } from '../../memory/physical-memory.js';
import { ConfigError } from '../../errors.js';
import { ACPI_RSDP_ADDR, ACPI_TABLES_SIZE, BELOW_4G_RAM_MAX, acpiTablesBase } from '../memory-layout.js';
import { buildFacs, buildFadt, buildHpet, buildMadt, buildRsdp, buildRsdt, buildXsdt } from './tables.js';
import { buildDsdt } from './dsdt.js';
import { PIIX4_PM_IO_BASE_DEFAULT } from '../../../devices/pci/piix4-pm.js';

export interface AcpiTableOptions {
  /** CPUs (default 1). */
  cpus?: number;
  /** Base of the PIIX4 PM I/O block (default 0x600, where the board maps it at reset). */
  pmBase?: number;
  /** SCI's ISA IRQ (default 9). */
  sciIrq?: number;
  /** The PM device's GPE0 block, if it has one (ours has none). */
  gpe0?: { base: number; length: number };
  /** COM ports present (default 1). */
  serialPorts?: number;
  /** An i8042 keyboard controller is present (default true: QEMU's pc has one). */
  i8042?: boolean;
  /** An HPET is at 0xFED00000 (devices/timer/hpet.ts): an HPET table and a PNP0103 device. */
  hpet?: boolean;
}

/** The tables for one machine: `blob` goes at `tablesBase`, `rsdp` at `rsdpAddress`. */
export interface AcpiTables {
  tablesBase: number;
  blob: Uint8Array;
  rsdpAddress: number;
  rsdp: Uint8Array;
  /** Guest-physical address of each table. */
  addresses: { facs: number; dsdt: number; fadt: number; madt: number; hpet?: number; rsdt: number; xsdt: number };
}

/** The CF9 reset register and the value that resets the board (devices/misc/reset-control.ts). */
const RESET_PORT = 0xcf9;
const RESET_VALUE = 0x06;

/** Builds every table for a machine with `memoryBytes` of RAM (pure; for tests and the installer). */
export function buildAcpiTables(memoryBytes: number, opts: AcpiTableOptions = {}): AcpiTables {
  const base = acpiTablesBase(memoryBytes);
  if (base < 0x100000) throw new ConfigError(`ACPI tables: ${memoryBytes} bytes of RAM leave no room above 1 MiB`);
  const cpus = opts.cpus ?? 1;
  const pmBase = opts.pmBase ?? PIIX4_PM_IO_BASE_DEFAULT;
  const pieces: Uint8Array[] = [];
  let offset = 0;
  const place = (t: Uint8Array, align: number): number => {
    offset = Math.ceil(offset / align) * align;
    const at = offset;
    pieces.push(t);
    offsets.push(at);
    offset += t.length;
    return base + at;
  };
  const offsets: number[] = [];

  const facs = place(buildFacs(), 64);
  const dsdt = place(buildDsdt({
    pciHoleStart: Math.min(memoryBytes, BELOW_4G_RAM_MAX),
    serialPorts: opts.serialPorts ?? 1,
    i8042: opts.i8042 ?? true,
    cpus,
    hpet: opts.hpet ?? false,
  }), 16);
  const fadt = place(buildFadt({
    facsAddress: facs,
    dsdtAddress: dsdt,
    pmBase,
    sciIrq: opts.sciIrq ?? 9,
    gpe0Base: opts.gpe0?.base ?? 0,
    gpe0Length: opts.gpe0?.length ?? 0,
    resetPort: RESET_PORT,
    resetValue: RESET_VALUE,
    i8042: opts.i8042 ?? true,
  }), 16);
  const madt = place(buildMadt({ cpus }), 16);
  const hpet = opts.hpet ? place(buildHpet(), 16) : undefined;
  const listed = hpet === undefined ? [fadt, madt] : [fadt, madt, hpet];
  const rsdt = place(buildRsdt(listed), 16);
  const xsdt = place(buildXsdt(listed), 16);
  if (offset > ACPI_TABLES_SIZE) throw new ConfigError(`ACPI tables need ${offset} bytes; the region has ${ACPI_TABLES_SIZE}`);

  const blob = new Uint8Array(offset);
  pieces.forEach((p, i) => blob.set(p, offsets[i]!));
  return {
    tablesBase: base,
    blob,
    rsdpAddress: ACPI_RSDP_ADDR,
    rsdp: buildRsdp(rsdt, xsdt),
    addresses: { facs, dsdt, fadt, madt, ...(hpet === undefined ? {} : { hpet }), rsdt, xsdt },
  };
}

/**
 * Writes the tables into guest RAM. 0xE0000–0xFFFFF must be RAM (direct kernel boot makes
 * it so); otherwise the DMA check throws. Returns the tables written.
 */
export function installAcpiTables(mem: PhysicalMemory, memoryBytes: number, opts: AcpiTableOptions = {}): AcpiTables {
  const t = buildAcpiTables(memoryBytes, opts);
  mem.writeBytes(t.tablesBase, t.blob);
  mem.writeBytes(t.rsdpAddress, t.rsdp);
  return t;
}
