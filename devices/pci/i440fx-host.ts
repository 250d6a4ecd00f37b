/**
 * The Intel 82441FX PMC (i440FX) host bridge, PCI 00:00.0: 8086:1237 revision 02, class
 * 0600 (host bridge), as QEMU's `pc` machine has it.
 *
 * References: Intel 440FX PCIset datasheet (82441FX PMC), 3.2 (configuration registers):
 * PAM0–PAM6 at 0x59–0x5F (the BIOS and option-ROM areas 0xC0000–0xFFFFF: read/write enable
 * per segment), SMRAM at 0x72 (D_OPEN bit 6, D_CLS bit 5, D_LCK bit 4, G_SMRAME bit 3,
 * C_BASE_SEG bits 2:0 = 010 read-only); QEMU's hw/pci-host/i440fx.c for reset values.
 *
 * The registers are stored and read back. XXX: PAM shadowing is not implemented: the memory
 * map keeps 0xC0000–0xDFFFF as RAM and the BIOS window as the board set it up; a PAM write
 * that asks for something else is logged (`-d unimp`). SMRAM has no effect either (pcvm has
 * no SMM); once D_LCK is set, D_OPEN and D_LCK are read-only until reset, as the datasheet says.
 */
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { Logger } from '../../src/machine/log.js';
import { PciDevice, overlaps } from './pci-device.js';

export const I440FX_PAM = 0x59;
export const I440FX_PAM_SIZE = 7;
export const I440FX_SMRAM = 0x72;

const SMRAM_D_OPEN = 1 << 6;
const SMRAM_D_CLS = 1 << 5;
const SMRAM_D_LCK = 1 << 4;
const SMRAM_G_SMRAME = 1 << 3;
/** C_BASE_SEG = 010: SMRAM at 0xA0000 (the only value the chip supports). */
const SMRAM_C_BASE_SEG = 0x02;

export class I440fxHostBridge extends PciDevice {
  constructor(deps: { id?: string; logger?: Logger } = {}) {
    super({ id: deps.id ?? 'i440fx', logger: deps.logger }, { vendorId: 0x8086, deviceId: 0x1237, revision: 0x02, classCode: 0x060000 });
    this.setDefault(I440FX_SMRAM, 1, SMRAM_C_BASE_SEG);
    this.setWritable(I440FX_SMRAM, 1, SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME);
    this.finishInit();
  }

  /** The PAM register for segment `i` (0 = 0xF0000 BIOS, 1–6 = the 16-KiB pairs below). */
  pam(i: number): number {
    return this.peek(I440FX_PAM + i, 1);
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    if (overlaps(offset, size, I440FX_PAM, I440FX_PAM_SIZE)) {
      this.unimp(`PAM shadowing is not implemented; PAM0-6 = ${Array.from({ length: 7 }, (_, i) => this.pam(i).toString(16).padStart(2, '0')).join(' ')} ignored`);
    }
    if (overlaps(offset, size, I440FX_SMRAM, 1)) this.smramUpdate();
  }

  protected override configReset(): void {
    this.smramUpdate();
  }

  /** D_LCK makes D_OPEN and itself read-only (and clears D_OPEN) until reset. */
  private smramUpdate(): void {
    const smram = this.peek(I440FX_SMRAM, 1);
    if ((smram & SMRAM_D_LCK) !== 0) {
      this.config[I440FX_SMRAM] = smram & ~SMRAM_D_OPEN;
      this.wmask[I440FX_SMRAM] = SMRAM_D_CLS | SMRAM_G_SMRAME;
    } else {
      this.wmask[I440FX_SMRAM] = SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME;
    }
    if ((smram & (SMRAM_D_OPEN | SMRAM_G_SMRAME)) !== 0) this.unimp('SMRAM: no SMM; D_OPEN/G_SMRAME have no effect');
  }
}
