/**
 * The SMBIOS tables of direct kernel boot (src/machine/smbios/), read back with a small parser
 * of our own written from DSP0134 2.8 (5.2.1 entry point, 6.1 structure layout, 7.x fields).
 * Expected values come from QEMU 7.2 + SeaBIOS 1.16.2: when qemu-system-x86_64 is installed the
 * last group dumps the tables QEMU's guest memory holds (HMP pmemsave of the BIOS area) and
 * compares them structure by structure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type KernelBootConfig } from '../../src/machine/config.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { buildSmbiosImage, smbiosRamRanges } from '../../src/machine/smbios/install.js';
import type { SmbiosBoardInfo, SmbiosConfig } from '../../src/machine/smbios/smbios-tables.js';
import { parseCommandLine } from '../../src/cli/options.js';
import { machineFromOptions } from '../../src/cli/machine-from-options.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';
import { hltBzImage } from '../helpers/bzimage.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---------------------------------------------------------------------------------------------
// An independent reader

interface Structure {
  type: number;
  handle: number;
  /** The formatted area, header included. */
  formatted: Uint8Array;
  strings: string[];
}

interface EntryPoint {
  address: number;
  major: number;
  minor: number;
  maxStructure: number;
  revision: number;
  bcd: number;
  tableLength: number;
  tableAddress: number;
  count: number;
}

const sum8 = (b: Uint8Array): number => b.reduce((s, x) => (s + x) & 0xff, 0);

/** Scans `area` (at guest address `base`) for "_SM_" on 16-byte boundaries, as Linux's dmi_scan does. */
function findEntryPoint(area: Uint8Array, base: number): EntryPoint {
  for (let off = 0; off + 31 <= area.length; off += 16) {
    if (String.fromCharCode(...area.subarray(off, off + 4)) !== '_SM_') continue;
    const len = area[off + 5]!;
    const ep = area.subarray(off, off + len);
    expect(len).toBe(0x1f);
    expect(sum8(ep)).toBe(0);
    expect(String.fromCharCode(...ep.subarray(0x10, 0x15))).toBe('_DMI_');
    expect(sum8(ep.subarray(0x10, 0x1f))).toBe(0);
    const v = new DataView(ep.buffer, ep.byteOffset, ep.length);
    return {
      address: base + off, major: ep[6]!, minor: ep[7]!, maxStructure: v.getUint16(8, true), revision: ep[10]!,
      bcd: ep[0x1e]!, tableLength: v.getUint16(0x16, true), tableAddress: v.getUint32(0x18, true), count: v.getUint16(0x1c, true),
    };
  }
  throw new Error('no _SM_ anchor');
}

function parseStructures(table: Uint8Array): Structure[] {
  const out: Structure[] = [];
  let p = 0;
  while (p < table.length) {
    const type = table[p]!;
    const len = table[p + 1]!;
    const handle = table[p + 2]! | (table[p + 3]! << 8);
    const formatted = table.subarray(p, p + len);
    let q = p + len;
    const strings: string[] = [];
    if (table[q] === 0) {
      q += 2; // no strings: two NULs
    } else {
      while (table[q] !== 0) {
        const end = table.indexOf(0, q);
        strings.push(Buffer.from(table.subarray(q, end)).toString('latin1'));
        q = end + 1;
      }
      q += 1;
    }
    out.push({ type, handle, formatted, strings });
    p = q;
    if (type === 127) break;
  }
  expect(p).toBe(table.length);
  return out;
}

/** The string a field's number names (0 = none). */
function str(s: Structure, offset: number): string | undefined {
  const n = s.formatted[offset]!;
  return n === 0 ? undefined : s.strings[n - 1];
}
const u16 = (s: Structure, o: number): number => s.formatted[o]! | (s.formatted[o + 1]! << 8);
const u32 = (s: Structure, o: number): number => (u16(s, o) + u16(s, o + 2) * 0x10000);
const u64 = (s: Structure, o: number): number => u32(s, o) + u32(s, o + 4) * 0x1_0000_0000;
const ofType = (ss: Structure[], t: number): Structure[] => ss.filter((s) => s.type === t);

// ---------------------------------------------------------------------------------------------
// Boards

function board(memoryBytes: number, extra: Partial<SmbiosBoardInfo> = {}): SmbiosBoardInfo {
  return {
    memoryBytes, ramRanges: smbiosRamRanges(memoryBytes), cpuidSignature: 0x000206d7, cpuidFeatureEdx: 0x1f8bfbff,
    firmwareVersion: '0.1.0', ...extra,
  };
}

function tables(cfg: SmbiosConfig, b: SmbiosBoardInfo): { ep: EntryPoint; ss: Structure[]; table: Uint8Array } {
  const img = buildSmbiosImage(cfg, b);
  const area = new Uint8Array(0x10000);
  area.set(img.entryPoint, img.entryAddress - 0xf0000);
  area.set(img.table, img.tableAddress - 0xf0000);
  const ep = findEntryPoint(area, 0xf0000);
  expect(ep.tableAddress).toBe(img.tableAddress);
  const table = area.subarray(ep.tableAddress - 0xf0000, ep.tableAddress - 0xf0000 + ep.tableLength);
  return { ep, ss: parseStructures(table), table };
}

describe('SMBIOS entry point', () => {
  it('2.8, 31 bytes, both checksums, in 0xF0000-0xFFFFF on a 16-byte boundary; count, length and max structure match the table', () => {
    const { ep, ss, table } = tables({}, board(256 * MiB));
    expect(ep.address % 16).toBe(0);
    expect(ep.address).toBeGreaterThanOrEqual(0xf0000);
    expect(ep.address).toBeLessThan(0x100000);
    expect([ep.major, ep.minor, ep.revision, ep.bcd]).toEqual([2, 8, 0, 0x28]);
    expect(ep.count).toBe(ss.length);
    expect(ep.tableLength).toBe(table.length);
    // The largest structure with its strings: the formatted length plus each string and NUL plus the final NUL.
    const sizes = ss.map((s) => s.formatted.length + (s.strings.length === 0 ? 2 : s.strings.reduce((n, x) => n + x.length + 1, 1)));
    expect(ep.maxStructure).toBe(Math.max(...sizes));
  });
});

describe('SMBIOS structures (QEMU 7.2 pc-i440fx-7.2 defaults)', () => {
  const { ss } = tables({}, board(256 * MiB));

  it('types and handles in QEMU order: 0, 1, 3, 4, 16, 17, 19, 32, 127', () => {
    expect(ss.map((s) => [s.type, s.handle])).toEqual([
      [0, 0], [1, 0x100], [3, 0x300], [4, 0x400], [16, 0x1000], [17, 0x1100], [19, 0x1300], [32, 0x2000], [127, 0x7f00],
    ]);
  });

  it('type 0: the firmware is pcvm, SeaBIOS layout (segment E800, characteristics "not supported", ext byte 2 = 04h)', () => {
    const t0 = ss[0]!;
    expect(t0.formatted.length).toBe(0x18);
    expect([str(t0, 4), str(t0, 5), str(t0, 8)]).toEqual(['pcvm', '0.1.0', '01/01/2026']);
    expect(u16(t0, 6)).toBe(0xe800);
    expect(u64(t0, 0x0a)).toBe(0x08);
    expect([t0.formatted[0x12], t0.formatted[0x13]]).toEqual([0, 0x04]);
    expect([...t0.formatted.subarray(0x14, 0x18)]).toEqual([0, 0, 0xff, 0xff]);
  });

  it('type 1: QEMU, "Standard PC (i440FX + PIIX, 1996)", pc-i440fx-7.2, no serial, zero UUID, power-switch wake-up', () => {
    const t1 = ofType(ss, 1)[0]!;
    expect(t1.formatted.length).toBe(0x1b);
    expect([str(t1, 4), str(t1, 5), str(t1, 6), str(t1, 7)]).toEqual(['QEMU', 'Standard PC (i440FX + PIIX, 1996)', 'pc-i440fx-7.2', undefined]);
    expect([...t1.formatted.subarray(8, 0x18)]).toEqual(new Array(16).fill(0));
    expect(t1.formatted[0x18]).toBe(0x06);
    expect([str(t1, 0x19), str(t1, 0x1a)]).toEqual([undefined, undefined]);
  });

  it('type 3: chassis "Other" by QEMU, version pc-i440fx-7.2, states safe, security unknown', () => {
    const t3 = ofType(ss, 3)[0]!;
    expect(t3.formatted.length).toBe(0x16);
    expect([str(t3, 4), t3.formatted[5], str(t3, 6)]).toEqual(['QEMU', 0x01, 'pc-i440fx-7.2']);
    expect([...t3.formatted.subarray(9, 0x0d)]).toEqual([3, 3, 3, 2]);
  });

  it('type 4: "CPU 0" by QEMU, CPUID.1 EAX/EDX as processor ID, 2000 MHz, populated and enabled, one core and thread', () => {
    const t4 = ofType(ss, 4)[0]!;
    expect(t4.formatted.length).toBe(0x2a);
    expect([str(t4, 4), t4.formatted[5], t4.formatted[6], str(t4, 7), str(t4, 0x10)]).toEqual(['CPU 0', 3, 1, 'QEMU', 'pc-i440fx-7.2']);
    expect([u32(t4, 8), u32(t4, 0x0c)]).toEqual([0x000206d7, 0x1f8bfbff]);
    expect([u16(t4, 0x14), u16(t4, 0x16), t4.formatted[0x18]]).toEqual([2000, 2000, 0x41]);
    expect([t4.formatted[0x23], t4.formatted[0x24], t4.formatted[0x25], u16(t4, 0x26), u16(t4, 0x28)]).toEqual([1, 1, 1, 2, 1]);
  });

  it('type 4 socket names follow QEMU\'s "%s%2x": CPU 0 … CPU 9, CPU a, CPU10', () => {
    const many = tables({}, board(256 * MiB, { sockets: 17 })).ss;
    const names = ofType(many, 4).map((s) => str(s, 4));
    expect([names[0], names[9], names[10], names[16]]).toEqual(['CPU 0', 'CPU 9', 'CPU a', 'CPU10']);
    expect(ofType(many, 4).map((s) => s.handle)[16]).toBe(0x410);
  });

  it('type 32: no errors; type 127 closes the table', () => {
    expect([...ofType(ss, 32)[0]!.formatted.subarray(4)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(ss.at(-1)!.formatted.length).toBe(4);
  });
});

describe('SMBIOS memory structures', () => {
  it('-m 256: array of 256 MiB, one DIMM 0 of 256 MiB, one range 0-256 MiB', () => {
    const { ss } = tables({}, board(256 * MiB));
    const t16 = ofType(ss, 16)[0]!;
    expect([t16.formatted[4], t16.formatted[5], t16.formatted[6], u32(t16, 7), u16(t16, 0x0b), u16(t16, 0x0d), u64(t16, 0x0f)])
      .toEqual([1, 3, 6, 256 * 1024, 0xfffe, 1, 0]);
    const t17 = ofType(ss, 17);
    expect(t17).toHaveLength(1);
    expect([u16(t17[0]!, 4), u16(t17[0]!, 0x0c), t17[0]!.formatted[0x0e], str(t17[0]!, 0x10), t17[0]!.formatted[0x12], str(t17[0]!, 0x17)])
      .toEqual([0x1000, 256, 0x09, 'DIMM 0', 0x07, 'QEMU']);
    const t19 = ofType(ss, 19);
    expect(t19.map((s) => [u32(s, 4), u32(s, 8), u16(s, 0x0c), s.formatted[0x0e]])).toEqual([[0, 256 * 1024 - 1, 0x1000, 1]]);
  });

  it('-m 5G: 5 GiB array and DIMM; two ranges, below 4 GiB up to the board\'s split and the rest from 4 GiB', () => {
    const { ss } = tables({}, board(5 * GiB));
    expect(u32(ofType(ss, 16)[0]!, 7)).toBe(5 * 1024 * 1024);
    expect(ofType(ss, 17).map((s) => u16(s, 0x0c))).toEqual([5120]);
    // memory-layout.ts: RAM below 4 GiB ends at 0xE0000000 (3.5 GiB), the rest from 4 GiB.
    expect(ofType(ss, 19).map((s) => [s.handle, u32(s, 4), u32(s, 8)])).toEqual([
      [0x1300, 0, 0xe0000000 / 1024 - 1],
      [0x1301, 4 * 1024 * 1024, (4 * GiB + 1.5 * GiB) / 1024 - 1],
    ]);
  });

  it('-m 40G: one DIMM per 16 GiB (16, 16, 8 GiB)', () => {
    const { ss } = tables({}, board(40 * GiB));
    const t17 = ofType(ss, 17);
    expect(t17.map((s) => [s.handle, str(s, 0x10), u16(s, 0x0c)])).toEqual([
      [0x1100, 'DIMM 0', 16384], [0x1101, 'DIMM 1', 16384], [0x1102, 'DIMM 2', 8192],
    ]);
    expect(u16(ofType(ss, 16)[0]!, 0x0d)).toBe(3);
  });

  it('sizes past the short fields: extended capacity (>= 2 TiB), byte addresses (> 4 TiB); DIMMs stay 16 GiB', () => {
    const { ss } = tables({}, board(5 * 1024 * GiB));
    const t16 = ofType(ss, 16)[0]!;
    expect([u32(t16, 7), u64(t16, 0x0f)]).toEqual([0x80000000, 5 * 1024 * GiB]);
    const t17 = ofType(ss, 17)[0]!;
    expect([u16(t17, 0x0c), u32(t17, 0x1c)]).toEqual([16384, 0]);
    expect(ofType(ss, 17)).toHaveLength(320);
    const high = ofType(ss, 19)[1]!;
    expect([u32(high, 4), u32(high, 8), u64(high, 0x0f), u64(high, 0x17)])
      .toEqual([0xffffffff, 0xffffffff, 4 * GiB, 4 * GiB + 5 * 1024 * GiB - 0xe0000000 - 1]);
  });
});

// ---------------------------------------------------------------------------------------------
// Options

function cli(...args: string[]): SmbiosConfig {
  return parseCommandLine(args).smbios;
}

describe('-smbios and -uuid', () => {
  it('type=0 makes the board build QEMU\'s own type 0 (ext byte 2 = 14h; uefi adds 08h); release sets the major/minor bytes', () => {
    const { ss } = tables(cli('-smbios', 'type=0,vendor=SeaBIOS,version=1.16.2-debian-1.16.2-1,date=04/01/2014,release=1.16,uefi=on'), board(256 * MiB));
    const t0 = ss[0]!;
    expect([str(t0, 4), str(t0, 5), str(t0, 8)]).toEqual(['SeaBIOS', '1.16.2-debian-1.16.2-1', '04/01/2014']);
    expect([t0.formatted[0x13], t0.formatted[0x14], t0.formatted[0x15]]).toEqual([0x1c, 1, 16]);
  });

  it('type=1 fields and uuid (first three fields stored little-endian, SMBIOS 2.6+)', () => {
    const { ss } = tables(cli('-smbios', 'type=1,manufacturer=M,product=P,version=V,serial=S,uuid=12345678-9abc-def0-1122-334455667788,sku=K,family=F'), board(256 * MiB));
    const t1 = ofType(ss, 1)[0]!;
    expect([4, 5, 6, 7, 0x19, 0x1a].map((o) => str(t1, o))).toEqual(['M', 'P', 'V', 'S', 'K', 'F']);
    expect(Buffer.from(t1.formatted.subarray(8, 0x18)).toString('hex')).toBe('78563412bc9af0de1122334455667788');
  });

  it('later options set their fields and keep the others; -uuid and uuid= set one UUID, the last winning; empty strings are no string', () => {
    const cfg = cli('-smbios', 'type=1,product=A,serial=X', '-smbios', 'type=1,product=B,serial=', '-smbios', 'type=1,uuid=00000000-0000-0000-0000-000000000001', '-uuid', 'FFFFFFFF-0000-0000-0000-000000000002');
    expect(cfg.type1).toEqual({ product: 'B', serial: '' });
    expect(cfg.uuid?.at(-1)).toBe(2);
    const t1 = ofType(tables(cfg, board(256 * MiB)).ss, 1)[0]!;
    expect([str(t1, 5), str(t1, 7), str(t1, 4)]).toEqual(['B', undefined, 'QEMU']);
  });

  it.each([
    [['-smbios', 'type=5'], "-smbios type=5: Don't know how to build fields for SMBIOS type 5"],
    [['-smbios', 'type=1,foo=bar'], "-smbios type=1,foo=bar: Invalid parameter 'foo'"],
    [['-smbios', 'type=0,product=x'], "-smbios type=0,product=x: Invalid parameter 'product'"],
    [['-smbios', 'type=1,uuid=bad'], '-smbios type=1,uuid=bad: Invalid UUID'],
    [['-smbios', 'type=0,release=1'], '-smbios type=0,release=1: Invalid release'],
    [['-smbios', 'vendor=x'], '-smbios vendor=x: Must specify type= or file='],
    [['-smbios', 'type=x'], "-smbios type=x: Parameter 'type' expects a number"],
    [['-uuid', 'bad'], '-uuid bad: failed to parse UUID string: wrong format'],
    [['-smbios', 'type=3,manufacturer=x'], '-smbios type=3,manufacturer=x: SMBIOS type 3 fields are not supported yet (only types 0 and 1)'],
    [['-smbios', 'file=/x'], '-smbios file=/x: -smbios file= (a binary SMBIOS file) is not supported yet'],
  ])('%j fails: %s (QEMU 7.2\'s message where QEMU has one)', (args, message) => {
    expect(() => parseCommandLine(args)).toThrow(message);
  });
});

// ---------------------------------------------------------------------------------------------
// The board

const KERNEL: KernelBootConfig = { fileName: 'bzImage', data: hltBzImage(), cmdline: '', initrd: [] };

function readBiosArea(m: Machine): { ep: EntryPoint; ss: Structure[] } {
  const area = m.memory.readBytes(0xf0000, 0x10000);
  const ep = findEntryPoint(area, 0xf0000);
  return { ep, ss: parseStructures(m.memory.readBytes(ep.tableAddress, ep.tableLength)) };
}

describe('SMBIOS on the board', () => {
  it('direct boot installs them with the CPU model\'s CPUID.1 (APIC bit included); they come back after a reset over guest writes', () => {
    const m = new Machine(defaultMachineConfig({ memoryBytes: 64 * MiB, kernel: KERNEL, smbios: { type1: { serial: 'abc' } } }), { serial: [], log: NULL_LOGGER });
    const before = readBiosArea(m);
    const t4 = ofType(before.ss, 4)[0]!;
    const [eax, , , edx] = cpuid(1, 0, m.cpu.bus.apic, m.cpu.model);
    expect([u32(t4, 8), u32(t4, 0x0c)]).toEqual([eax, edx]);
    expect(str(ofType(before.ss, 1)[0]!, 7)).toBe('abc');
    m.memory.writeBytes(before.ep.address, new Uint8Array(31));
    m.memory.writeBytes(before.ep.tableAddress, new Uint8Array(before.ep.tableLength).fill(0xcc));
    m.reset();
    expect(readBiosArea(m)).toEqual(before);
  });

  it('the CLI passes -smbios through to the machine config', () => {
    const { config } = machineFromOptions(parseCommandLine(['-smbios', 'type=1,product=X', '-uuid', '00000000-0000-0000-0000-0000000000ff']), process.stdout);
    expect(config.smbios?.type1).toEqual({ product: 'X' });
    expect(config.smbios?.uuid?.[15]).toBe(0xff);
  });
});

// ---------------------------------------------------------------------------------------------
// QEMU as the oracle

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/**
 * Starts QEMU (SeaBIOS, no boot device) and reads its SMBIOS tables out of guest memory with
 * HMP pmemsave once SeaBIOS has put the entry point in the BIOS area.
 */
async function qemuTables(args: string[]): Promise<{ ep: EntryPoint; ss: Structure[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'pcvm-smbios-'));
  const child = spawn('qemu-system-x86_64', ['-M', 'pc', '-display', 'none', '-monitor', 'stdio', '-serial', 'none', '-nodefaults', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let exited = '';
  child.stderr.on('data', (d: Buffer) => { exited += d.toString(); });
  child.on('exit', (code) => { exited += ` (QEMU exited with ${code})`; });
  const save = async (addr: number, len: number, file: string): Promise<Uint8Array | undefined> => {
    child.stdin.write(`pmemsave ${addr} ${len} "${file}"\n`);
    for (let i = 0; i < 50 && !existsSync(file) && !exited.includes('QEMU exited'); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 100));
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  };
  try {
    for (let attempt = 0; attempt < 40 && !exited.includes('QEMU exited'); attempt++) {
      const area = await save(0xf0000, 0x10000, join(dir, `f${attempt}`));
      if (area && Buffer.from(area).includes('_SM_')) {
        const ep = findEntryPoint(area, 0xf0000);
        const table = await save(ep.tableAddress, ep.tableLength, join(dir, 'table'));
        return { ep, ss: parseStructures(table!) };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`QEMU never showed an SMBIOS entry point${exited}`);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Structures as comparable text: type, handle, formatted bytes, strings. */
const shape = (ss: Structure[]): string[] => ss.map((s) => `${s.type}@${s.handle.toString(16)} ${Buffer.from(s.formatted).toString('hex')} ${JSON.stringify(s.strings)}`);

describe.skipIf(!haveQemu)('against QEMU 7.2 + SeaBIOS', () => {
  it('-m 256: every structure but SeaBIOS\'s type 0 is byte-identical; the entry point has the same version fields', async () => {
    const q = await qemuTables(['-m', '256']);
    // QEMU's default CPU is qemu64: the board gets its CPUID.1 EAX/EDX so type 4 compares whole.
    const qt4 = ofType(q.ss, 4)[0]!;
    const ours = tables({}, board(256 * MiB, { cpuidSignature: u32(qt4, 8), cpuidFeatureEdx: u32(qt4, 0x0c) }));
    expect(shape(ours.ss).slice(1)).toEqual(shape(q.ss).slice(1));
    expect(ours.ss[0]!.formatted).toEqual(q.ss[0]!.formatted); // SeaBIOS's layout; only the strings differ
    expect([ours.ep.major, ours.ep.minor, ours.ep.revision, ours.ep.bcd, ours.ep.count]).toEqual([q.ep.major, q.ep.minor, q.ep.revision, q.ep.bcd, q.ep.count]);
  }, 30_000);

  it('-smbios type=0 and type=1 with -uuid: every structure byte-identical, type 0 included', async () => {
    const args = ['-smbios', 'type=0,vendor=Vend,version=1.2,date=01/02/2003,release=3.4', '-smbios', 'type=1,manufacturer=M,product=P,version=V,serial=S,sku=K,family=F', '-uuid', '12345678-9abc-def0-1122-334455667788'];
    const q = await qemuTables(['-m', '256', ...args]);
    const qt4 = ofType(q.ss, 4)[0]!;
    const ours = tables(cli(...args), board(256 * MiB, { cpuidSignature: u32(qt4, 8), cpuidFeatureEdx: u32(qt4, 0x0c) }));
    expect(shape(ours.ss)).toEqual(shape(q.ss));
    expect(ours.ep.maxStructure).toBe(q.ep.maxStructure);
  }, 30_000);

  it('-m 20G: the memory array and its two DIMMs are byte-identical (type 19 differs only by the below-4-GiB split)', async () => {
    const q = await qemuTables(['-m', '20G']);
    const ours = tables({}, board(20 * GiB));
    expect(shape([...ofType(ours.ss, 16), ...ofType(ours.ss, 17)])).toEqual(shape([...ofType(q.ss, 16), ...ofType(q.ss, 17)]));
    // QEMU's pc puts 3 GiB below 4 GiB once RAM reaches 3.5 GiB (gigabyte_align); this board 3.5 GiB.
    expect(ofType(q.ss, 19).map((s) => u32(s, 8))).toEqual([3 * 1024 * 1024 - 1, (4 * GiB + 17 * GiB) / 1024 - 1]);
    expect(ofType(ours.ss, 19).map((s) => u32(s, 8))).toEqual([0xe0000000 / 1024 - 1, (4 * GiB + 16.5 * GiB) / 1024 - 1]);
  }, 30_000);
});
