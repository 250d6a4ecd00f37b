/**
 * Message-signalled interrupts as a PCI function sees them: an interrupt is a 32-bit memory
 * write of `data` to `address` (PCI 3.0 6.8). Where the write lands is the board's business
 * (devices/apic/msi-router.ts turns writes to 0xFEExxxxx into local-APIC messages).
 */
export interface MsiSink {
  /** The function writes `data` (32 bits) to the 64-bit address `addrHi:addrLo`. */
  sendMsi(addrLo: number, addrHi: number, data: number): void;
}
