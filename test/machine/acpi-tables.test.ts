/**
 * The board's ACPI tables. Expected bytes come from the ACPI 6.5 specification's encodings
 * (20.2 AML grammar, 6.4 resource descriptors, 5.2 table layouts) worked out by hand here,
 * and from Intel's iasl compiling the same ASL (acpica-tools): where iasl is installed, the
 * encoder must produce exactly what iasl produces, and the whole DSDT must survive a
 * disassemble/re-assemble round trip byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as aml from '../../src/machine/acpi/aml.js';
import { buildAcpiTables, installAcpiTables } from '../../src/machine/acpi/install.js';
import { buildDsdtAml, S5_SLP_TYP } from '../../src/machine/acpi/dsdt.js';
import { ACPI_RSDP_ADDR, acpiTablesBase } from '../../src/machine/memory-layout.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { AcpiPm } from '../../devices/acpi/acpi-pm.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { RecordingIrqLine } from '../../src/machine/irq.js';

const MiB = 1024 * 1024;

function hasIasl(): boolean {
  try {
    execFileSync('iasl', ['-v'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
const IASL = hasIasl();

/** Compiles ASL `body` inside a DefinitionBlock with iasl (no optimizations) and returns the AML after the header. */
function iaslCompile(body: string): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'pcvm-iasl-'));
  const src = join(dir, 't.asl');
  writeFileSync(src, `DefinitionBlock ("", "SSDT", 2, "PCVM", "TEST", 1) {\n${body}\n}\n`);
  execFileSync('iasl', ['-oa', '-p', join(dir, 't'), src], { stdio: 'pipe' });
  return Array.from(readFileSync(join(dir, 't.aml')).subarray(36));
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 2 ** 32;
const sig = (b: Uint8Array, o = 0) => String.fromCharCode(...b.subarray(o, o + 4));
const sum8 = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);

/** The table at guest address `addr` in a built set. */
function tableAt(t: ReturnType<typeof buildAcpiTables>, addr: number): Uint8Array {
  const off = addr - t.tablesBase;
  return t.blob.subarray(off, off + u32(t.blob, off + 4));
}

describe('AML encoder (ACPI 6.5 chapter 20)', () => {
  it('encodes integers in the shortest form', () => {
    expect(aml.int(0)).toEqual([0x00]);
    expect(aml.int(1)).toEqual([0x01]);
    expect(aml.int(2)).toEqual([0x0a, 0x02]);
    expect(aml.int(0xff)).toEqual([0x0a, 0xff]);
    expect(aml.int(0x100)).toEqual([0x0b, 0x00, 0x01]);
    expect(aml.int(0x0001ffff)).toEqual([0x0c, 0xff, 0xff, 0x01, 0x00]);
    expect(aml.int(0x1_0000_0000n)).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
  });

  it('encodes PkgLength in one to three bytes, counting itself (20.2.4)', () => {
    expect(aml.pkgLength(0)).toEqual([0x01]);
    expect(aml.pkgLength(62)).toEqual([0x3f]);
    expect(aml.pkgLength(63)).toEqual([0x41, 0x04]); // 65 = 0x041: lead 01xx0001, then 0x04
    expect(aml.pkgLength(0xffd)).toEqual([0x4f, 0xff]); // 0xfff
    expect(aml.pkgLength(0xffe)).toEqual([0x81, 0x00, 0x01]); // 0x1001 in three bytes
    expect(aml.rawLength(0x2f8)).toEqual([0x48, 0x2f]); // a field width does not count itself
  });

  it('encodes names with root, parent, dual and multi prefixes (20.2.2)', () => {
    expect(aml.nameString('_S5')).toEqual([0x5f, 0x53, 0x35, 0x5f]);
    expect(aml.nameString('\\_SB.PCI0')).toEqual([0x5c, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x43, 0x49, 0x30]);
    expect(aml.nameString('^PX13')).toEqual([0x5e, 0x50, 0x58, 0x31, 0x33]);
    expect(aml.nameString('PCI0.ISA.P40C')).toEqual([0x2f, 0x03, ...[...'PCI0ISA_P40C'].map((c) => c.charCodeAt(0))]);
    expect(() => aml.nameSeg('1ABC')).toThrow(aml.AmlError);
    expect(() => aml.nameSeg('TOOLONG')).toThrow(aml.AmlError);
  });

  it('compresses EISA ids: EISAID("PNP0C09") is 0x090CD041 (19.6.43)', () => {
    expect(aml.eisaId('PNP0C09')).toEqual([0x0c, 0x41, 0xd0, 0x0c, 0x09]);
    expect(aml.eisaId('PNP0A03')).toEqual([0x0c, 0x41, 0xd0, 0x0a, 0x03]);
  });

  it('encodes resource descriptors as laid out in 6.4', () => {
    // IO: tag 0x47, Decode16, min, max, alignment, length (6.4.2.5).
    expect(aml.io(0x3f8, 0x3f8, 0, 8)).toEqual([0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08]);
    // IRQ without flags: tag 0x22 and the 16-bit mask (6.4.2.1).
    expect(aml.irqNoFlags(12)).toEqual([0x22, 0x00, 0x10]);
    // Extended interrupt: 0x89, length 6, flags consumer|level|high|shared = 0x09, count 1, GSI 9 (6.4.3.6).
    expect(aml.interrupt({ consumer: true, level: true, activeHigh: true, shared: true }, [9]))
      .toEqual([0x89, 0x06, 0x00, 0x09, 0x01, 0x09, 0x00, 0x00, 0x00]);
    // Word bus number: 0x88, length 13, type 2, flags MaxFixed|MinFixed, 0, gran, min, max, tra, len (6.4.3.5.3).
    expect(aml.wordBusNumber(0, 0xff)).toEqual([0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01]);
    // A resource template is a Buffer ending in End Tag 0x79 0x00.
    expect(aml.resourceTemplate([aml.irqNoFlags(1)])).toEqual([0x11, 0x08, 0x0a, 0x05, 0x22, 0x02, 0x00, 0x79, 0x00]);
  });

  it.skipIf(!IASL)('produces exactly what iasl compiles for the same ASL', () => {
    const cases: [string, number[]][] = [
      ['Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })', aml.nameDecl('_S5', aml.pkg([aml.int(0), aml.int(0), aml.int(0), aml.int(0)]))],
      ['Name (_HID, EisaId ("PNP0A03"))', aml.nameDecl('_HID', aml.eisaId('PNP0A03'))],
      ['Name (_HID, "QEMU0002")', aml.nameDecl('_HID', aml.str('QEMU0002'))],
      ['Name (BUF, Buffer (0x03) { 0x01, 0x02, 0x03 })', aml.nameDecl('BUF', aml.buffer([1, 2, 3]))],
      ['Name (BIG, 0x123456789A)', aml.nameDecl('BIG', aml.int(0x123456789an))],
      ['Device (RTC) { Name (_HID, EisaId ("PNP0B00")) Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0070, 0x0070, 0x10, 0x02) IRQNoFlags () {8} }) }',
        aml.device('RTC', [aml.nameDecl('_HID', aml.eisaId('PNP0B00')), aml.nameDecl('_CRS', aml.resourceTemplate([aml.io(0x70, 0x70, 0x10, 2), aml.irqNoFlags(8)]))])],
      ['Name (CRS, ResourceTemplate () {' +
        ' WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x00FF, 0x0000, 0x0100,,,)' +
        ' WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300,,,, TypeStatic, DenseTranslation)' +
        ' DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000,,,, AddressRangeMemory, TypeStatic)' +
        ' DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, 0x08000000, 0xFEBFFFFF, 0x00000000, 0xF6C00000,,,, AddressRangeMemory, TypeStatic)' +
        ' QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x0000000000000000, 0x0000000100000000, 0x00000001FFFFFFFF, 0x0000000000000000, 0x0000000100000000,,,, AddressRangeMemory, TypeStatic)' +
        ' Interrupt (ResourceConsumer, Level, ActiveHigh, Shared,,,) {5, 10, 11} })',
      aml.nameDecl('CRS', aml.resourceTemplate([
        aml.wordBusNumber(0, 0xff), aml.wordIo(0xd00, 0xffff), aml.dwordMemory(true, 0xa0000, 0xbffff),
        aml.dwordMemory(false, 0x08000000, 0xfebfffff), aml.qwordMemory(true, 2 ** 32, 2 ** 33 - 1),
        aml.interrupt({ consumer: true, level: true, activeHigh: true, shared: true }, [5, 10, 11]),
      ]))],
      ['OperationRegion (P40C, PCI_Config, 0x60, 0x04) Field (P40C, ByteAcc, NoLock, Preserve) { PRQ0, 8, , 16, PRQ3, 8 }',
        aml.cat(aml.opRegion('P40C', aml.RegionSpace.PciConfig, 0x60, 4),
          aml.field('P40C', aml.FieldAccess.Byte, false, aml.FieldUpdate.Preserve, [{ name: 'PRQ0', bits: 8 }, { name: '', bits: 16 }, { name: 'PRQ3', bits: 8 }]))],
      ['Name (PRQ0, Zero) Method (IQST, 1, NotSerialized) { If (And (0x80, Arg0)) { Return (0x09) } Return (0x0B) }' +
        ' Method (MSRS, 1, Serialized) { CreateDWordField (Arg0, 0x05, PRRI) Store (PRRI, PRQ0) Or (PRQ0, 0x80, PRQ0) If (LLess (Arg0, 0x80)) { Return (IQST (PRQ0)) } Else { Return (LEqual (Arg0, One)) } }',
      aml.cat(
        aml.nameDecl('PRQ0', aml.int(0)),
        aml.method('IQST', 1, false, [aml.ifThen(aml.and(aml.int(0x80), aml.arg(0)), [aml.ret(aml.int(9))]), aml.ret(aml.int(0x0b))]),
        aml.method('MSRS', 1, true, [
          aml.createDWordField(aml.arg(0), 5, 'PRRI'), aml.store(aml.ref('PRRI'), aml.ref('PRQ0')), aml.or(aml.ref('PRQ0'), aml.int(0x80), aml.ref('PRQ0')),
          aml.ifThen(aml.lLess(aml.arg(0), aml.int(0x80)), [aml.ret(aml.call('IQST', aml.ref('PRQ0')))]),
          aml.elseDo([aml.ret(aml.lEqual(aml.arg(0), aml.int(1)))]),
        ]))],
      ['Scope (\\_SB) { Device (PCI0) { Name (_ADR, Zero) } }', aml.scope('\\_SB', [aml.device('PCI0', [aml.nameDecl('_ADR', aml.int(0))])])],
    ];
    for (const [asl, ours] of cases) expect(ours, asl).toEqual(iaslCompile(asl));
  });
});

describe('ACPI tables', () => {
  const mem = 512 * MiB;
  const t = buildAcpiTables(mem);
  const a = t.addresses;

  it('places the tables in the ACPI region and every checksum sums to zero', () => {
    expect(t.tablesBase).toBe(acpiTablesBase(mem));
    expect(a.facs % 64).toBe(0);
    for (const addr of [a.dsdt, a.fadt, a.madt, a.rsdt, a.xsdt]) {
      const tbl = tableAt(t, addr);
      expect(sum8(tbl), sig(tbl)).toBe(0);
      expect(addr % 8).toBe(0);
    }
    expect(sig(tableAt(t, a.dsdt))).toBe('DSDT');
    expect(t.blob.length).toBeLessThanOrEqual(0x10000);
  });

  it('RSDP revision 2: signature, checksum of 20 bytes, extended checksum of 36, RSDT and XSDT pointers', () => {
    const r = t.rsdp;
    expect(t.rsdpAddress).toBe(ACPI_RSDP_ADDR);
    expect(String.fromCharCode(...r.subarray(0, 8))).toBe('RSD PTR ');
    expect(r.length).toBe(36);
    expect(sum8(r.subarray(0, 20))).toBe(0);
    expect(sum8(r)).toBe(0);
    expect(r[15]).toBe(2);
    expect(u32(r, 16)).toBe(a.rsdt);
    expect(u32(r, 20)).toBe(36);
    expect(u64(r, 24)).toBe(a.xsdt);
  });

  it('RSDT and XSDT point at the FADT and the MADT', () => {
    const rsdt = tableAt(t, a.rsdt);
    const xsdt = tableAt(t, a.xsdt);
    expect([u32(rsdt, 36), u32(rsdt, 40)]).toEqual([a.fadt, a.madt]);
    expect([u64(xsdt, 36), u64(xsdt, 44)]).toEqual([a.fadt, a.madt]);
    expect(sig(tableAt(t, a.fadt))).toBe('FACP');
    expect(sig(tableAt(t, a.madt))).toBe('APIC');
    const facs = t.blob.subarray(a.facs - t.tablesBase);
    expect(sig(facs)).toBe('FACS');
    expect(u32(facs, 4)).toBe(64);
  });

  it('FADT (revision 3, ACPI 5.2.9 offsets): PM blocks at 0x600, SCI 9, no SMI_CMD, flags, reset register, pointers', () => {
    const f = tableAt(t, a.fadt);
    expect(f.length).toBe(244);
    expect(f[8]).toBe(3);
    expect(u32(f, 36)).toBe(a.facs);
    expect(u32(f, 40)).toBe(a.dsdt);
    expect(u16(f, 46)).toBe(9); // SCI_INT
    expect(u32(f, 48)).toBe(0); // SMI_CMD: ACPI already enabled
    expect(u32(f, 56)).toBe(0x600); // PM1a_EVT_BLK
    expect(u32(f, 64)).toBe(0x604); // PM1a_CNT_BLK
    expect(u32(f, 76)).toBe(0x608); // PM_TMR_BLK
    expect(u32(f, 80)).toBe(0); // no GPE0
    expect([f[88], f[89], f[91], f[92]]).toEqual([4, 2, 4, 0]);
    expect(f[108]).toBe(0x32); // CENTURY
    expect(u16(f, 109)).toBe(0x0002); // 8042 present
    // WBINVD (0), PROC_C1 (2), SLP_BUTTON (5), RESET_REG_SUP (10); PWR_BUTTON (4) clear.
    expect(u32(f, 112)).toBe((1 << 0) | (1 << 2) | (1 << 5) | (1 << 10));
    expect([f[116], f[117]]).toEqual([1, 8]); // RESET_REG: system I/O, 8 bits
    expect(u64(f, 120)).toBe(0xcf9);
    expect(f[128]).toBe(0x06);
    expect(u64(f, 132)).toBe(a.facs); // X_FIRMWARE_CTRL
    expect(u64(f, 140)).toBe(a.dsdt); // X_DSDT
    expect([f[148], f[149], u64(f, 152)]).toEqual([1, 32, 0x600]); // X_PM1a_EVT_BLK
    expect([f[172], f[173], u64(f, 176)]).toEqual([1, 16, 0x604]); // X_PM1a_CNT_BLK
    expect([f[208], f[209], u64(f, 212)]).toEqual([1, 32, 0x608]); // X_PM_TMR_BLK
    // A relocated PM block and a GPE0 block show up where they are.
    const t2 = buildAcpiTables(mem, { pmBase: 0xb000, gpe0: { base: 0xafe0, length: 4 } });
    const f2 = tableAt(t2, t2.addresses.fadt);
    expect([u32(f2, 56), u32(f2, 80), f2[92]]).toEqual([0xb000, 0xafe0, 4]);
  });

  it('MADT: LAPIC address, PCAT_COMPAT, one local APIC, the IOAPIC, overrides as QEMU pc, LINT1 NMI', () => {
    const m = tableAt(t, a.madt);
    expect(u32(m, 36)).toBe(0xfee00000);
    expect(u32(m, 40)).toBe(1);
    const entries: number[][] = [];
    for (let o = 44; o < m.length; o += m[o + 1]!) entries.push(Array.from(m.subarray(o, o + m[o + 1]!)));
    expect(entries).toEqual([
      [0, 8, 0, 0, 1, 0, 0, 0],
      [1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0],
      [2, 10, 0, 0, 2, 0, 0, 0, 0x00, 0x00],
      [2, 10, 0, 5, 5, 0, 0, 0, 0x0d, 0x00],
      [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0x00],
      [2, 10, 0, 10, 10, 0, 0, 0, 0x0d, 0x00],
      [2, 10, 0, 11, 11, 0, 0, 0, 0x0d, 0x00],
      [4, 6, 0xff, 0, 0, 1],
    ]);
  });

  it('DSDT: the PCI hole starts at the end of RAM below 4 GiB (3.5 GiB at most)', () => {
    const hole = (memBytes: number) => {
      const d = buildDsdtAml({ pciHoleStart: Math.min(memBytes, 0xe0000000), serialPorts: 1, i8042: true, cpus: 1 });
      // The last DWordMemory before the _PRT: find "87 17 00 00 0c 00" + gran, min.
      const hex = Buffer.from(d).toString('hex');
      const at = hex.indexOf('871700000c0100000000');
      expect(at).toBeGreaterThan(0);
      return u32(Uint8Array.from(d), at / 2 + 10);
    };
    expect(hole(512 * MiB)).toBe(512 * MiB);
    expect(hole(6 * 1024 * MiB)).toBe(0xe0000000);
  });

  it('_S5 gives the SLP_TYP that makes the PIIX4 PM block power off', () => {
    const d = Buffer.from(buildDsdtAml({ pciHoleStart: 0x20000000, serialPorts: 1, i8042: true, cpus: 1 }));
    // Name (_S5, Package (4) { … }): 08 "_S5_" 12 PkgLength 04, then the first element.
    const at = d.indexOf(Buffer.from([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12]));
    expect(at).toBeGreaterThan(0);
    expect(d[at + 7]).toBe(4);
    const slpTyp = d[at + 8] === 0x0a ? d[at + 9]! : d[at + 8]!; // Zero/One or BytePrefix
    expect(slpTyp).toBe(S5_SLP_TYP);
    let off = 0;
    const clock = new VirtualClock({ kind: 'icount', shift: 0 });
    const pm = new AcpiPm({ clock, sci: new RecordingIrqLine(), onPowerOff: () => off++ });
    pm.ports.ioWrite(4, 2, (slpTyp << 10) | (1 << 13)); // PM1a_CNT: SLP_TYP | SLP_EN
    expect(off).toBe(1);
  });

  it('installAcpiTables writes them where an OS finds them: the RSDP on a 16-byte boundary in 0xE0000-0xFFFFF', () => {
    const memory = new PhysicalMemory(64 * MiB);
    memory.mapRam(0, 0xa0000, 0);
    memory.mapRam(0xc0000, 64 * MiB - 0xc0000, 0xc0000);
    installAcpiTables(memory, 64 * MiB);
    let found = -1;
    for (let p = 0xe0000; p < 0x100000; p += 16) {
      if (String.fromCharCode(...memory.readBytes(p, 8)) === 'RSD PTR ' && sum8(memory.readBytes(p, 20)) === 0) {
        found = p;
        break;
      }
    }
    expect(found).toBe(ACPI_RSDP_ADDR);
    const xsdt = Number(memory.read(found + 24, 4));
    expect(String.fromCharCode(...memory.readBytes(xsdt, 4))).toBe('XSDT');
    const fadt = memory.read(xsdt + 36, 4);
    const dsdt = memory.read(fadt + 40, 4);
    const len = memory.read(dsdt + 4, 4);
    expect(sum8(memory.readBytes(dsdt, len))).toBe(0);
  });

  it.skipIf(!IASL)('the DSDT disassembles with iasl and re-assembles to the same AML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pcvm-dsdt-'));
    const dsdt = tableAt(t, a.dsdt);
    writeFileSync(join(dir, 'dsdt.dat'), dsdt);
    execFileSync('iasl', ['-d', join(dir, 'dsdt.dat')], { stdio: 'pipe' });
    const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
    for (const s of ['Device (PCI0)', 'EisaId ("PNP0A03")', 'Device (LNKA)', 'Device (LNKS)', 'Name (_S5,', 'Device (COM1)', 'EisaId ("PNP0B00")',
      'OperationRegion (P40C, PCI_Config, 0x60, 0x04)', 'Name (_PRT, Package (0x80)', 'Device (C000)']) {
      expect(dsl).toContain(s);
    }
    execFileSync('iasl', ['-oa', '-p', join(dir, 're'), join(dir, 'dsdt.dsl')], { stdio: 'pipe' });
    const re = readFileSync(join(dir, 're.aml'));
    expect(Array.from(re.subarray(36))).toEqual(Array.from(dsdt.subarray(36)));
  });
});
