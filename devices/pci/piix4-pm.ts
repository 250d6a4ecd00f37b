/**
 * The Intel 82371AB PIIX4 power-management function, PCI 00:01.3: 8086:7113 revision 03,
 * class 0680 (other bridge), as QEMU's `pc` machine has it. Its configuration registers
 * place the ACPI PM I/O block (devices/acpi/acpi-pm.ts) in the port space.
 *
 * References: Intel 82371AB PIIX4 datasheet, 11.2 (function 3 configuration registers):
 * PMBA at 0x40 (bits 15:6 the base of the 64-byte block, bit 0 reads 1: I/O space),
 * PMREGMISC at 0x80 (bit 0 PMIOSE: the block is decoded); QEMU's hw/acpi/piix4.c
 * (pm_io_space_update) and SeaBIOS's piix4_pm_config_setup for the values a guest finds.
 *
 * Reset values: the chip powers up with the block disabled; pcvm boots guests without a
 * BIOS, so the function starts as SeaBIOS leaves it on QEMU: PMBA = 0x600, PMREGMISC = 1,
 * INTERRUPT_LINE = 9 (the SCI is hard-wired to IRQ 9).
 *
 * Not implemented (stored only): the SMBus host controller (SMBBA 0x90, SMBHSTCFG 0xD2),
 * device activity/resource registers (0x58–0x6B) and the GPIO/GPO registers.
 */
import type { AccessSize, IoPortBus, PortHandler } from '../../src/memory/io-bus.js';
import type { Logger } from '../../src/machine/log.js';
import { PCI_INTERRUPT_LINE, PciDevice, overlaps } from './pci-device.js';

/** PMBA: the PM I/O block's base address register. */
export const PIIX4_PMBA = 0x40;
/** PMREGMISC: bit 0 enables the PM I/O block. */
export const PIIX4_PMREGMISC = 0x80;
const PMIOSE = 0x01;
/** Size of the PM I/O block. */
export const PIIX4_PM_IO_LENGTH = 64;
/** Where SeaBIOS puts the block on QEMU. */
export const PIIX4_PM_IO_BASE_DEFAULT = 0x600;
/** The SCI's ISA IRQ. */
export const PIIX4_SCI_IRQ = 9;

export interface Piix4PmDeps {
  id?: string;
  io: IoPortBus;
  /** The ACPI PM1/PM-timer block (AcpiPm.ports). */
  pmPorts: PortHandler;
  logger?: Logger;
}

export class Piix4PmFunction extends PciDevice {
  private readonly io: IoPortBus;
  private readonly pmPorts: PortHandler;
  /** Where the block is mapped now, or -1 (derived). */
  private mappedBase = -1;

  constructor(deps: Piix4PmDeps) {
    super({ id: deps.id ?? 'piix4-pm', logger: deps.logger }, { vendorId: 0x8086, deviceId: 0x7113, revision: 0x03, classCode: 0x068000, interruptPin: 1 });
    this.io = deps.io;
    this.pmPorts = deps.pmPorts;
    // STATUS: fast back-to-back capable, DEVSEL medium (QEMU's piix4_pm_realize).
    this.setDefault(0x06, 2, 0x0280);
    this.setDefault(PCI_INTERRUPT_LINE, 1, PIIX4_SCI_IRQ);
    this.setDefault(PIIX4_PMBA, 4, PIIX4_PM_IO_BASE_DEFAULT | 1);
    this.setWritable(PIIX4_PMBA, 4, 0xffc0);
    this.setDefault(PIIX4_PMREGMISC, 1, PMIOSE);
    this.setWritable(PIIX4_PMREGMISC, 1, PMIOSE);
    this.finishInit();
    this.updatePmIo();
  }

  /** The PM block's base port, or -1 when PMREGMISC disables it. */
  get pmBase(): number {
    if ((this.peek(PIIX4_PMREGMISC, 1) & PMIOSE) === 0) return -1;
    return this.peek(PIIX4_PMBA, 4) & 0xffc0;
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    if (overlaps(offset, size, PIIX4_PMBA, 4) || overlaps(offset, size, PIIX4_PMREGMISC, 1)) this.updatePmIo();
  }

  protected override configReset(): void {
    this.updatePmIo();
  }

  /** Moves the PM block to where PMBA/PMREGMISC say (QEMU's pm_io_space_update). */
  private updatePmIo(): void {
    const base = this.pmBase;
    if (base === this.mappedBase) return;
    if (this.mappedBase >= 0) this.io.unmap('piix4_pm');
    this.mappedBase = -1;
    if (base < 0) return;
    try {
      this.io.map('piix4_pm', base, PIIX4_PM_IO_LENGTH, this.pmPorts, { widths: [1, 2, 4] });
      this.mappedBase = base;
    } catch (e) {
      // A guest that points PMBA at another device's ports gets no PM block, not a crash.
      if (this.logger?.enabled('guest_errors')) this.logger.log('guest_errors', `piix4_pm: PMBA 0x${base.toString(16)}: ${(e as Error).message}`);
    }
  }
}
