/**
 * HMP `info pci` in QEMU's format (hw/pci/pci-hmp-cmds.c, hmp_info_pci_device), from the
 * `query-pci` data MachineControl gives. Class names are QEMU's pci_class_descriptions
 * (hw/pci/pci.c); a class not in the table prints as `Class %04x`. A mapped BAR ends with a
 * period as in QEMU 8; an unmapped one prints as later QEMUs do (`I/O (not mapped)`), where
 * QEMU 8 printed the all-ones address.
 */
import type { PciDeviceInfo } from '../machine/pci-board.js';

const CLASS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0001, 'VGA controller'], [0x0100, 'SCSI controller'], [0x0101, 'IDE controller'],
  [0x0102, 'Floppy controller'], [0x0103, 'IPI controller'], [0x0104, 'RAID controller'],
  [0x0106, 'SATA controller'], [0x0107, 'SAS controller'], [0x0180, 'Storage controller'],
  [0x0200, 'Ethernet controller'], [0x0201, 'Token Ring controller'], [0x0202, 'FDDI controller'],
  [0x0203, 'ATM controller'], [0x0280, 'Network controller'], [0x0300, 'VGA controller'],
  [0x0301, 'XGA controller'], [0x0302, '3D controller'], [0x0380, 'Display controller'],
  [0x0400, 'Video controller'], [0x0401, 'Audio controller'], [0x0402, 'Phone'],
  [0x0403, 'Audio controller'], [0x0480, 'Multimedia controller'], [0x0500, 'RAM controller'],
  [0x0501, 'Flash controller'], [0x0580, 'Memory controller'], [0x0600, 'Host bridge'],
  [0x0601, 'ISA bridge'], [0x0602, 'EISA bridge'], [0x0603, 'MC bridge'], [0x0604, 'PCI bridge'],
  [0x0605, 'PCMCIA bridge'], [0x0606, 'NUBUS bridge'], [0x0607, 'CARDBUS bridge'],
  [0x0608, 'RACEWAY bridge'], [0x0680, 'Bridge'], [0x0700, 'Serial port'], [0x0701, 'Parallel port'],
  [0x0800, 'Interrupt controller'], [0x0801, 'DMA controller'], [0x0802, 'Timer'], [0x0803, 'RTC'],
  [0x0900, 'Keyboard'], [0x0901, 'Pen'], [0x0902, 'Mouse'], [0x0a00, 'Dock station'],
  [0x0b00, 'i386 cpu'], [0x0c00, 'Firewire controller'], [0x0c01, 'Access bus controller'],
  [0x0c02, 'SSA controller'], [0x0c03, 'USB controller'], [0x0c04, 'Fibre channel controller'],
  [0x0c05, 'SMBus'],
]);

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** The text of `info pci` (lines joined with "\n", no trailing newline). */
export function formatInfoPci(devices: readonly PciDeviceInfo[]): string {
  const out: string[] = [];
  for (const d of devices) {
    out.push(`  Bus ${String(d.bus).padStart(2)}, device ${String(d.slot).padStart(3)}, function ${d.function}:`);
    const name = CLASS_NAMES.get(d.classCode) ?? `Class ${hex(d.classCode, 4)}`;
    out.push(`    ${name}: PCI device ${hex(d.vendorId, 4)}:${hex(d.deviceId, 4)}`);
    if (d.subsystem) out.push(`      PCI subsystem ${hex(d.subsystem.vendorId, 4)}:${hex(d.subsystem.id, 4)}`);
    if (d.irq) out.push(`      IRQ ${d.irq.line}, pin ${String.fromCharCode(0x41 + d.irq.pin - 1)}`);
    for (const r of d.regions) {
      let text: string;
      if (r.type === 'io') {
        text = r.address >= 0 ? `I/O at 0x${hex(r.address, 4)} [0x${hex(r.address + r.size - 1, 4)}].` : 'I/O (not mapped)';
      } else {
        const kind = `${r.mem64 ? 64 : 32} bit${r.prefetch ? ' prefetchable' : ''} memory`;
        text = r.address >= 0 ? `${kind} at 0x${hex(r.address, 8)} [0x${hex(r.address + r.size - 1, 8)}].` : `${kind} (not mapped)`;
      }
      out.push(`      BAR${r.bar}: ${text}`);
    }
    out.push(`      id "${d.qdevId}"`);
  }
  return out.join('\n');
}
