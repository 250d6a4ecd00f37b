/**
 * The DSDT of the PC board, modelled on the one QEMU's `pc` (i440FX/PIIX) machine builds
 * (hw/i386/acpi-build.c: build_dsdt, build_piix4_pci0_int, build_prt, build_link_dev,
 * build_isa_devices_aml):
 *
 *   \_SB.PCI0      PNP0A03, _ADR 0, _UID 1, _CRS: bus 0–255, the config ports, I/O
 *                  0–0xCF7 and 0xD00–0xFFFF, the VGA window, the 32-bit PCI hole from the end
 *                  of RAM below 4 GiB to 0xFEBFFFFF; _PRT for slots 0–31, INTA–D.
 *   \_SB.PCI0.ISA  the PIIX3 (_ADR 0x00010000) with OperationRegion P40C on its PCI config
 *                  space at 0x60: the four PIRQ route registers; RTC, KBD, MOU, COM1/COM2.
 *   \_SB.PCI0.FWCF QEMU0002, the fw_cfg ports.
 *   \_SB.LNKA–LNKD PCI interrupt link devices (PNP0C0F) whose _CRS/_SRS/_DIS read and write
 *                  PRQ0–PRQ3 (the PIRQ registers); LNKS the SCI (GSI 9) for slot 1 INTA.
 *   \_SB.C000…     ACPI0007 processor devices matching the MADT's processor UIDs.
 *   \_SB.HPET      PNP0103 with the block's 1 KiB window, when the board has an HPET. (QEMU's
 *                  _STA reads the vendor and period registers to check the block is there;
 *                  ours is built with the board, so it says 0x0F.)
 *   \_S5           the soft-off sleep package: SLP_TYP 0, the value devices/acpi/acpi-pm.ts
 *                  powers off on.
 *
 * PCI interrupt routing therefore goes through link devices, as on QEMU: the OS may move a
 * PIRQ to IRQ 5, 10 or 11 with _SRS, and the PIIX3 follows because _SRS writes its register.
 * The power button is the fixed-feature one (FADT PWR_BUTTON clear), so no PNP0C0C device.
 *
 * Not included (QEMU has them): the debug port region DBG, floppy and LPT devices,
 * PCI/CPU/memory hotplug, the GPE block and _GPE methods, _S3/_S4 (no suspend).
 */
import {
  type Aml, FieldAccess, FieldUpdate, RegionSpace, and, arg, call, cat, createDWordField, device, dwordMemory, eisaId,
  field, ifThen, int, interrupt, io, irqNoFlags, lLess, memory32Fixed, method, nameDecl, opRegion, or, pkg, ref,
  resourceTemplate, ret, scope, store, str, wordBusNumber, wordIo, qwordMemory,
} from './aml.js';
import { sdt } from './tables.js';
import { HPET_BASE, HPET_MMIO_SIZE } from '../../../devices/timer/hpet.js';

/** SLP_TYP for S5 (soft off): what AcpiPm treats as power-off. */
export const S5_SLP_TYP = 0;

/** The end of the 32-bit PCI MMIO window (the IOAPIC and LAPIC are above it). */
export const PCI_HOLE_END = 0xfebfffff;

export interface DsdtOptions {
  /** First address of the 32-bit PCI hole: the end of RAM below 4 GiB. */
  pciHoleStart: number;
  /** A 64-bit PCI window [start, end], if any. */
  pci64?: { start: number; end: number };
  /** COM ports present (COM1, COM2 declared when there are at least 1, 2). */
  serialPorts: number;
  /** An i8042 keyboard controller is present: declare KBD and MOU. */
  i8042: boolean;
  /** Number of CPUs (processor devices C000…). */
  cpus: number;
  /** An HPET is present (device HPET). */
  hpet?: boolean;
}

const LINK_IRQ_FLAGS = { consumer: true, level: true, activeHigh: true, shared: true } as const;
/** The IRQs a PCI link can be routed to (QEMU's _PRS). */
const LINK_IRQS = [5, 10, 11];

/** `_PRT`: for every slot and pin the link (slot + pin) & 3 → LNKD, LNKA, LNKB, LNKC; slot 1 INTA → LNKS. */
function prt(): Aml {
  const entries: Aml[] = [];
  for (let slot = 0; slot < 32; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      // The swizzle of devices/pci/pci-bus.ts: PIRQ (slot + pin - 1) & 3, i.e. LNKA + that.
      const link = slot === 1 && pin === 0 ? 'LNKS' : `LNK${'ABCD'[(slot + pin - 1) & 3]}`;
      entries.push(pkg([int(slot * 0x10000 + 0xffff), int(pin), ref(link), int(0)]));
    }
  }
  return nameDecl('_PRT', pkg(entries));
}

/** A PCI interrupt link on PIRQ register field `reg` (QEMU's build_link_dev). */
function link(name: string, uid: number, reg: string): Aml {
  return device(name, [
    nameDecl('_HID', eisaId('PNP0C0F')),
    nameDecl('_UID', int(uid)),
    nameDecl('_PRS', resourceTemplate([interrupt(LINK_IRQ_FLAGS, LINK_IRQS)])),
    method('_STA', 0, false, [ret(call('IQST', ref(reg)))]),
    method('_DIS', 0, false, [or(ref(reg), int(0x80), ref(reg))]),
    method('_CRS', 0, false, [ret(call('IQCR', ref(reg)))]),
    method('_SRS', 1, false, [createDWordField(arg(0), 5, 'PRRI'), store(ref('PRRI'), ref(reg))]),
  ]);
}

function isaDevices(o: DsdtOptions): Aml[] {
  const devs: Aml[] = [
    device('RTC', [
      nameDecl('_HID', eisaId('PNP0B00')),
      nameDecl('_CRS', resourceTemplate([io(0x70, 0x70, 0x10, 0x02), irqNoFlags(8), io(0x72, 0x72, 0x02, 0x06)])),
    ]),
  ];
  if (o.i8042) {
    devs.push(
      device('KBD', [
        nameDecl('_HID', eisaId('PNP0303')),
        method('_STA', 0, false, [ret(int(0x0f))]),
        nameDecl('_CRS', resourceTemplate([io(0x60, 0x60, 0x01, 0x01), io(0x64, 0x64, 0x01, 0x01), irqNoFlags(1)])),
      ]),
      device('MOU', [
        nameDecl('_HID', eisaId('PNP0F13')),
        method('_STA', 0, false, [ret(int(0x0f))]),
        nameDecl('_CRS', resourceTemplate([irqNoFlags(12)])),
      ]),
    );
  }
  const coms: [number, number][] = [[0x3f8, 4], [0x2f8, 3]];
  for (let i = 0; i < Math.min(o.serialPorts, 2); i++) {
    const [port, irq] = coms[i]!;
    devs.push(device(`COM${i + 1}`, [
      nameDecl('_HID', eisaId('PNP0501')),
      nameDecl('_UID', int(i + 1)),
      method('_STA', 0, false, [ret(int(0x0f))]),
      nameDecl('_CRS', resourceTemplate([io(port, port, 0x00, 0x08), irqNoFlags(irq)])),
    ]));
  }
  return devs;
}

/** The AML body of the DSDT (without the table header). */
export function buildDsdtAml(o: DsdtOptions): number[] {
  const crs = [
    wordBusNumber(0x00, 0xff),
    io(0x0cf8, 0x0cf8, 0x01, 0x08),
    wordIo(0x0000, 0x0cf7),
    wordIo(0x0d00, 0xffff),
    dwordMemory(true, 0x000a0000, 0x000bffff),
  ];
  if (o.pciHoleStart <= PCI_HOLE_END) crs.push(dwordMemory(false, o.pciHoleStart, PCI_HOLE_END));
  if (o.pci64) crs.push(qwordMemory(true, o.pci64.start, o.pci64.end));

  const pci0 = device('PCI0', [
    nameDecl('_HID', eisaId('PNP0A03')),
    nameDecl('_ADR', int(0)),
    nameDecl('_UID', int(1)),
    nameDecl('_CRS', resourceTemplate(crs)),
    prt(),
    device('ISA', [
      nameDecl('_ADR', int(0x00010000)),
      // PIIX PCI-to-ISA IRQ routing registers.
      opRegion('P40C', RegionSpace.PciConfig, 0x60, 0x04),
      ...isaDevices(o),
    ]),
    device('FWCF', [
      nameDecl('_HID', str('QEMU0002')),
      nameDecl('_STA', int(0x0b)),
      // Selector and data at 0x510, the DMA address register at 0x514 (8 bytes).
      nameDecl('_CRS', resourceTemplate([io(0x0510, 0x0510, 0x01, 0x0c)])),
    ]),
  ]);

  const sb = scope('\\_SB', [
    pci0,
    field('PCI0.ISA.P40C', FieldAccess.Byte, false, FieldUpdate.Preserve, [
      { name: 'PRQ0', bits: 8 }, { name: 'PRQ1', bits: 8 }, { name: 'PRQ2', bits: 8 }, { name: 'PRQ3', bits: 8 },
    ]),
    // _STA of a link: 0x09 (present, disabled… not enabled) when the route is off, else 0x0B.
    method('IQST', 1, false, [ifThen(and(int(0x80), arg(0)), [ret(int(0x09))]), ret(int(0x0b))]),
    // _CRS of a link: the routed IRQ, or an empty (IRQ 0) descriptor when disabled.
    method('IQCR', 1, true, [
      nameDecl('PRR0', resourceTemplate([interrupt(LINK_IRQ_FLAGS, [0])])),
      createDWordField(ref('PRR0'), 5, 'PRRI'),
      ifThen(lLess(arg(0), int(0x80)), [store(arg(0), ref('PRRI'))]),
      ret(ref('PRR0')),
    ]),
    link('LNKA', 0, 'PRQ0'),
    link('LNKB', 1, 'PRQ1'),
    link('LNKC', 2, 'PRQ2'),
    link('LNKD', 3, 'PRQ3'),
    // The SCI: always GSI 9; a link only so that its polarity matches the MADT (QEMU's comment).
    device('LNKS', [
      nameDecl('_HID', eisaId('PNP0C0F')),
      nameDecl('_UID', int(4)),
      nameDecl('_PRS', resourceTemplate([interrupt(LINK_IRQ_FLAGS, [9])])),
      method('_STA', 0, false, [ret(int(0x0b))]),
      method('_DIS', 0, false, []),
      method('_CRS', 0, false, [ret(ref('_PRS'))]),
      method('_SRS', 1, false, []),
    ]),
    ...Array.from({ length: o.cpus }, (_, i) =>
      device(`C${i.toString(16).toUpperCase().padStart(3, '0')}`, [nameDecl('_HID', str('ACPI0007')), nameDecl('_UID', int(i))])),
    ...(o.hpet ? [device('HPET', [
      nameDecl('_HID', eisaId('PNP0103')),
      nameDecl('_UID', int(0)),
      nameDecl('_STA', int(0x0f)),
      nameDecl('_CRS', resourceTemplate([memory32Fixed(false, HPET_BASE, HPET_MMIO_SIZE)])),
    ])] : []),
  ]);

  const root = scope('\\', [
    nameDecl('_S5', pkg([int(S5_SLP_TYP), int(S5_SLP_TYP), int(0), int(0)])),
  ]);
  return cat(sb, root);
}

/** The DSDT (revision 2: 64-bit AML integers). */
export function buildDsdt(o: DsdtOptions): Uint8Array {
  return sdt('DSDT', 2, buildDsdtAml(o));
}
