/**
 * Where a PCI function's MSI/MSI-X memory write goes on a PC: a write to the 1 MiB window at
 * 0xFEE00000 is an interrupt message to the local APICs (SDM Vol. 3A 10.11 "Message
 * Signalled Interrupts"), decoded here the way QEMU's apic_send_msi does; any other address
 * is an ordinary DMA write of the 4 data bytes.
 *
 * Address (10.11.1): bits 31:20 = 0xFEE, 19:12 destination ID, 3 redirection hint, 2
 * destination mode (1 = logical). Data (10.11.2): bits 7:0 vector, 10:8 delivery mode,
 * 14 level (assert), 15 trigger mode (1 = level).
 *
 * Not modelled: the redirection hint's lowest-priority selection among several CPUs (one
 * CPU), interrupt remapping.
 */
import { DmaError } from '../../src/memory/physical-memory.js';
import type { Logger } from '../../src/machine/log.js';
import type { MsiSink } from '../pci/msi.js';
import type { ApicMessageSink, DeliveryMode } from './apic-bus.js';

export const MSI_ADDRESS_BASE = 0xfee00000;
const MSI_ADDRESS_MASK = 0xfff00000;
const MSI_ADDR_DEST_SHIFT = 12;
const MSI_ADDR_DEST_LOGICAL = 1 << 2;
const MSI_DATA_VECTOR = 0xff;
const MSI_DATA_DELIVERY_SHIFT = 8;
const MSI_DATA_TRIGGER_LEVEL = 1 << 15;

export interface MsiRouterDeps {
  apicBus: ApicMessageSink;
  /** Guest RAM for writes outside the interrupt window. */
  memory: { writeBytes(addr: number, data: Uint8Array): void };
  logger?: Logger;
}

export class ApicMsiRouter implements MsiSink {
  constructor(private readonly deps: MsiRouterDeps) {}

  sendMsi(addrLo: number, addrHi: number, data: number): void {
    addrLo >>>= 0;
    if (addrHi === 0 && (addrLo & MSI_ADDRESS_MASK) >>> 0 === MSI_ADDRESS_BASE) {
      const dest = (addrLo >>> MSI_ADDR_DEST_SHIFT) & 0xff;
      const logical = (addrLo & MSI_ADDR_DEST_LOGICAL) !== 0;
      const mode = ((data >>> MSI_DATA_DELIVERY_SHIFT) & 7) as DeliveryMode;
      this.deps.apicBus.deliverMessage(dest, logical, mode, data & MSI_DATA_VECTOR, (data & MSI_DATA_TRIGGER_LEVEL) !== 0);
      return;
    }
    // A message aimed elsewhere is a plain memory write (PCI 3.0 6.8: MSI is a DWORD write).
    const bytes = new Uint8Array([data & 0xff, (data >>> 8) & 0xff, (data >>> 16) & 0xff, (data >>> 24) & 0xff]);
    try {
      this.deps.memory.writeBytes(addrHi * 0x1_0000_0000 + addrLo, bytes);
    } catch (e) {
      if (!(e instanceof DmaError)) throw e;
      const log = this.deps.logger;
      if (log?.enabled('guest_errors')) log.log('guest_errors', `msi: write of 0x${(data >>> 0).toString(16)} to 0x${addrHi.toString(16)}:${addrLo.toString(16).padStart(8, '0')} hits no RAM; dropped`);
    }
  }
}
