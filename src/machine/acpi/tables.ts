/**
 * ACPI system description tables of the PC board: the common header with its checksum,
 * RSDP, RSDT, XSDT, FADT, FACS and MADT, as byte arrays. The DSDT's AML is in dsdt.ts;
 * install.ts lays the tables out in guest memory.
 *
 * Reference: ACPI Specification 6.5, chapter 5.2 — 5.2.5.3 RSDP (revision 2: RSDT and XSDT
 * addresses, checksum over the first 20 bytes and extended checksum over all 36), 5.2.6 the
 * description header, 5.2.7 RSDT, 5.2.8 XSDT, 5.2.9 FADT (we build revision 3, the ACPI 2.0
 * layout of 244 bytes with the 64-bit X_ fields), 5.2.10 FACS, 5.2.12 MADT (Processor Local
 * APIC, I/O APIC, Interrupt Source Override, Local APIC NMI); the HPET table of the IA-PC HPET
 * Specification 1.0a, 3.2.4. QEMU's hw/acpi/aml-build.c
 * (build_fadt, build_facs) and hw/i386/acpi-common.c (build_madt) for the values its `pc`
 * machine gives, which Linux is known to accept.
 */
import { HPET_BASE, HPET_CAP_ID } from '../../../devices/timer/hpet.js';
import { LeBytes } from '../le-bytes.js';

/** OEM identification in every header (6 and 8 characters). */
export const ACPI_OEM_ID = 'PCVM  ';
export const ACPI_OEM_TABLE_ID = 'PCVMPC  ';
const CREATOR_ID = 'PCVM';
const HEADER_SIZE = 36;

/** The value that makes the bytes of `data[start, end)` sum to 0 mod 256. */
export function acpiChecksum(data: ArrayLike<number>, start = 0, end = data.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + data[i]!) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** A complete table: header (5.2.6) + `body`, with length and checksum filled in. */
export function sdt(signature: string, revision: number, body: readonly number[]): Uint8Array {
  const h = new LeBytes()
    .ascii(signature, 4)
    .u32(HEADER_SIZE + body.length)
    .u8(revision)
    .u8(0) // checksum, below
    .ascii(ACPI_OEM_ID, 6)
    .ascii(ACPI_OEM_TABLE_ID, 8)
    .u32(1) // OEM revision
    .ascii(CREATOR_ID, 4)
    .u32(1); // creator revision
  const t = Uint8Array.from([...h.b, ...body]);
  t[9] = acpiChecksum(t);
  return t;
}

/** RSDP revision 2 (36 bytes). */
export function buildRsdp(rsdtAddress: number, xsdtAddress: number): Uint8Array {
  const r = Uint8Array.from(
    new LeBytes().ascii('RSD PTR ', 8).u8(0).ascii(ACPI_OEM_ID, 6).u8(2).u32(rsdtAddress).u32(36).u64(xsdtAddress).u8(0).u8(0).u16(0).b,
  );
  r[8] = acpiChecksum(r, 0, 20);
  r[32] = acpiChecksum(r, 0, 36);
  return r;
}

/** RSDT: 32-bit pointers to the other tables (not the FACS or DSDT). */
export function buildRsdt(tables: readonly number[]): Uint8Array {
  const b = new LeBytes();
  for (const t of tables) b.u32(t);
  return sdt('RSDT', 1, b.b);
}

/** XSDT: 64-bit pointers to the same tables. */
export function buildXsdt(tables: readonly number[]): Uint8Array {
  const b = new LeBytes();
  for (const t of tables) b.u64(t);
  return sdt('XSDT', 1, b.b);
}

/** FACS (5.2.10): 64 bytes, no checksum; must be 64-byte aligned. */
export function buildFacs(): Uint8Array {
  const b = new LeBytes().ascii('FACS', 4).u32(64).u32(0).u32(0).u32(0).u32(0).u64(0).u8(1); // hw sig, waking vector, lock, flags, X vector, version 1
  while (b.b.length < 64) b.u8(0);
  return Uint8Array.from(b.b);
}

// FADT flags (5.2.9, table 5.10).
export const FADT_WBINVD = 1 << 0;
export const FADT_PROC_C1 = 1 << 2;
/** Clear: the power button is the fixed-feature one (PWRBTN_STS/EN in PM1). */
export const FADT_PWR_BUTTON = 1 << 4;
/** Set: there is no fixed-feature sleep button. */
export const FADT_SLP_BUTTON = 1 << 5;
export const FADT_RESET_REG_SUP = 1 << 10;
/** IAPC_BOOT_ARCH bit 1: an 8042 keyboard controller is present. */
export const IAPC_BOOT_ARCH_8042 = 1 << 1;
/** The CMOS RAM index of the century (QEMU's RTC_CENTURY). */
export const RTC_CENTURY_INDEX = 0x32;

/** Generic Address Structure (5.2.3.2), 12 bytes. Space 1 = system I/O. */
function gas(space: number, bitWidth: number, address: number): number[] {
  if (address === 0) return new Array(12).fill(0);
  return new LeBytes().u8(space).u8(bitWidth).u8(0).u8(0).u64(address).b;
}

export interface FadtOptions {
  facsAddress: number;
  dsdtAddress: number;
  /** Base of the PM1a event (4 bytes), PM1a control (2 bytes at +4) and PM timer (4 bytes at +8) blocks. */
  pmBase: number;
  sciIrq: number;
  /** GPE0 block, or 0 when the PM device has none. */
  gpe0Base: number;
  gpe0Length: number;
  /** Reset register: an I/O port and the value to write. */
  resetPort: number;
  resetValue: number;
  i8042: boolean;
}

/**
 * FADT revision 3 (the ACPI 2.0 layout QEMU's q35 uses; its i440FX uses revision 1 without
 * the X_ fields). SMI_CMD 0 says ACPI is always enabled (the PM device sets SCI_EN at reset).
 */
export function buildFadt(o: FadtOptions): Uint8Array {
  const b = new LeBytes()
    .u32(o.facsAddress) // FIRMWARE_CTRL
    .u32(o.dsdtAddress) // DSDT
    .u8(1) // ACPI 1.0 INT_MODEL (reserved since 2.0; QEMU writes 1, "multiple APIC")
    .u8(0) // Preferred_PM_Profile: unspecified
    .u16(o.sciIrq)
    .u32(0) // SMI_CMD: none, ACPI is always enabled
    .u8(0).u8(0).u8(0).u8(0) // ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
    .u32(o.pmBase) // PM1a_EVT_BLK
    .u32(0) // PM1b_EVT_BLK
    .u32(o.pmBase + 4) // PM1a_CNT_BLK
    .u32(0) // PM1b_CNT_BLK
    .u32(0) // PM2_CNT_BLK
    .u32(o.pmBase + 8) // PM_TMR_BLK
    .u32(o.gpe0Base)
    .u32(0) // GPE1_BLK
    .u8(4).u8(2).u8(0).u8(4) // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN
    .u8(o.gpe0Base ? o.gpe0Length : 0)
    .u8(0).u8(0).u8(0) // GPE1_BLK_LEN, GPE1_BASE, CST_CNT
    .u16(0x0fff).u16(0x0fff) // P_LVL2_LAT, P_LVL3_LAT: C2/C3 not supported
    .u16(0).u16(0) // FLUSH_SIZE, FLUSH_STRIDE
    .u8(0).u8(0) // DUTY_OFFSET, DUTY_WIDTH
    .u8(0).u8(0).u8(RTC_CENTURY_INDEX) // DAY_ALRM, MON_ALRM, CENTURY
    .u16(o.i8042 ? IAPC_BOOT_ARCH_8042 : 0)
    .u8(0) // reserved
    .u32(FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP)
    .bytes(gas(1, 8, o.resetPort))
    .u8(o.resetValue)
    .u8(0).u16(0) // reserved
    .u64(o.facsAddress) // X_FIRMWARE_CTRL
    .u64(o.dsdtAddress) // X_DSDT
    .bytes(gas(1, 32, o.pmBase)) // X_PM1a_EVT_BLK
    .bytes(gas(1, 0, 0)) // X_PM1b_EVT_BLK
    .bytes(gas(1, 16, o.pmBase + 4)) // X_PM1a_CNT_BLK
    .bytes(gas(1, 0, 0)) // X_PM1b_CNT_BLK
    .bytes(gas(1, 0, 0)) // X_PM2_CNT_BLK
    .bytes(gas(1, 32, o.pmBase + 8)) // X_PM_TMR_BLK
    .bytes(gas(1, o.gpe0Base ? o.gpe0Length * 8 : 0, o.gpe0Base)) // X_GPE0_BLK
    .bytes(gas(1, 0, 0)); // X_GPE1_BLK
  return sdt('FACP', 3, b.b);
}

/** Where the local APICs and the I/O APIC live. */
export const LAPIC_BASE = 0xfee00000;
export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_ID = 0;

/** MPS INTI flags: polarity active high (01), trigger level (11). */
const INTI_LEVEL_ACTIVE_HIGH = 0x000d;

export interface MadtOptions {
  /** Number of CPUs; CPU i has ACPI processor UID i and APIC ID i. */
  cpus: number;
}

/**
 * MADT as QEMU's `pc` builds it: PCAT_COMPAT (8259s present), a Processor Local APIC per CPU,
 * the I/O APIC at GSI 0, ISA IRQ 0 → GSI 2, IRQ 5, 9, 10, 11 level-triggered active high
 * (the PCI-routable IRQs and the SCI), and NMI on LINT1 of every processor.
 */
export function buildMadt(o: MadtOptions): Uint8Array {
  const b = new LeBytes().u32(LAPIC_BASE).u32(1); // Local APIC address, flags: PCAT_COMPAT
  for (let i = 0; i < o.cpus; i++) b.u8(0).u8(8).u8(i).u8(i).u32(1); // Processor Local APIC, enabled
  b.u8(1).u8(12).u8(IOAPIC_ID).u8(0).u32(IOAPIC_BASE).u32(0); // I/O APIC
  b.u8(2).u8(10).u8(0).u8(0).u32(2).u16(0); // ISO: bus ISA, IRQ 0 → GSI 2, conforming
  for (const irq of [5, 9, 10, 11]) b.u8(2).u8(10).u8(0).u8(irq).u32(irq).u16(INTI_LEVEL_ACTIVE_HIGH);
  b.u8(4).u8(6).u8(0xff).u16(0).u8(1); // Local APIC NMI: all processors, conforming, LINT1
  return sdt('APIC', 1, b.b);
}


/**
 * HPET description table (IA-PC HPET Specification 1.0a, 3.2.4), 56 bytes, as QEMU's
 * build_hpet: the block's GCAP_ID bits 31:0, its base as a system-memory GAS, HPET number 0,
 * no minimum periodic tick, no page protection.
 */
export function buildHpet(): Uint8Array {
  const b = new LeBytes()
    .u32(HPET_CAP_ID) // Event Timer Block ID
    .u8(0).u8(0).u8(0).u8(0).u64(HPET_BASE) // BASE_ADDRESS: system memory, widths 0 as QEMU
    .u8(0) // HPET Number
    .u16(0) // Main Counter Minimum Clock_tick in Periodic Mode
    .u8(0); // Page Protection and OEM Attribute
  return sdt('HPET', 1, b.b);
}
