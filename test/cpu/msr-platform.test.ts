/**
 * The platform MSRs (SDM Vol. 4 Table 2-2; Vol. 3A 9.11.7, 11.11, 11.12): reset values,
 * write/read back, #GP for reserved bits, bad memory types and read-only MSRs, the
 * microcode-signature procedure, MISC_ENABLE's effect on CPUID and EFER, RDTSCP with
 * IA32_TSC_AUX, MSRs of unadvertised features raising #GP, and the snapshot round trip
 * (including a version-3 stream, which loads the power-on values).
 */
import { describe, expect, it } from 'vitest';
import { CpuFault, X86Cpu } from '../../src/cpu/x86/cpu.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { CpuHarness } from '../helpers/cpu-harness.js';
import { PCVM32_MODEL, PCVM_MODEL } from '../../src/cpu/x86/cpu-model.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';

const GP = 13, UD = 6;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const movEcx = (v: number) => [0xb9, ...le32(v)];
const movEax = (v: number) => [0xb8, ...le32(v)];
const movEdx = (v: number) => [0xba, ...le32(v)];
const WRMSR = [0x0f, 0x30], RDMSR = [0x0f, 0x32], CPUID = [0x0f, 0xa2];

function newCpu(model = PCVM_MODEL, nowNs = () => 0): X86Cpu {
  const mem = new PhysicalMemory(4096);
  mem.mapRam(0, 4096, 0);
  return new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs, log: NULL_LOGGER }, model);
}

function fault(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof CpuFault) return e.vector;
    throw e;
  }
  return undefined;
}

const rd = (cpu: X86Cpu, i: number) => readMsr(cpu, i);
const wr = (cpu: X86Cpu, i: number, lo: number, hi = 0) => writeMsr(cpu, i, lo, hi);

describe('reset values', () => {
  const cpu = newCpu();
  it.each([
    ['IA32_PLATFORM_ID', 0x17, [0, 0]],
    ['IA32_FEATURE_CONTROL (locked, VMX off)', 0x3a, [1, 0]],
    ['IA32_BIOS_SIGN_ID (revision after the firmware load)', 0x8b, [0, 0x71a]],
    ['IA32_MTRRCAP (8 variable, fixed, WC)', 0xfe, [0x508, 0]],
    ['IA32_MTRR_DEF_TYPE (disabled)', 0x2ff, [0, 0]],
    ['IA32_MTRR_PHYSBASE0', 0x200, [0, 0]],
    ['IA32_MTRR_PHYSMASK7', 0x20f, [0, 0]],
    ['IA32_MTRR_FIX64K_00000', 0x250, [0, 0]],
    ['IA32_MTRR_FIX4K_F8000', 0x26f, [0, 0]],
    ['IA32_PAT (0007040600070406H)', 0x277, [0x00070406, 0x00070406]],
    ['IA32_MISC_ENABLE (fast strings, BTS and PEBS unavailable)', 0x1a0, [0x1801, 0]],
    ['IA32_SYSENTER_CS', 0x174, [0, 0]],
    ['IA32_SYSENTER_ESP', 0x175, [0, 0]],
    ['IA32_SYSENTER_EIP', 0x176, [0, 0]],
    ['IA32_TSC_AUX', 0xc0000103, [0, 0]],
  ])('%s', (_name, index, value) => {
    expect(rd(cpu, index)).toEqual(value);
  });
});

describe('write and read back; reserved bits and bad types raise #GP(0)', () => {
  it('MTRR_DEF_TYPE keeps type, FE and E; types 2, 3, 7 and bits 9:8, 31:12, 63:32 are reserved', () => {
    const cpu = newCpu();
    wr(cpu, 0x2ff, 0xc06);
    expect(rd(cpu, 0x2ff)).toEqual([0xc06, 0]);
    for (const [lo, hi] of [[0xc02, 0], [0xc03, 0], [0xc07, 0], [0xd06, 0], [0x1c06, 0], [0xc06, 1]]) {
      expect(fault(() => wr(cpu, 0x2ff, lo!, hi!))).toBe(GP);
    }
    expect(rd(cpu, 0x2ff)).toEqual([0xc06, 0]);
  });

  it('variable MTRRs hold bits up to MAXPHYADDR (40): bit 40 and the reserved low bits #GP', () => {
    const cpu = newCpu();
    // SeaBIOS's layout: PHYSBASE0 = 0 WB, PHYSMASK0 = ~(RAM size - 1) over 40 bits | valid.
    wr(cpu, 0x200, 0x00000006, 0);
    wr(cpu, 0x201, 0xf8000800, 0xff);
    expect(rd(cpu, 0x200)).toEqual([6, 0]);
    expect(rd(cpu, 0x201)).toEqual([0xf8000800, 0xff]);
    wr(cpu, 0x20e, 0x12345000 | 4, 0x7f);
    expect(rd(cpu, 0x20e)).toEqual([0x12345004, 0x7f]);
    expect(fault(() => wr(cpu, 0x200, 6, 0x100))).toBe(GP); // bit 40
    expect(fault(() => wr(cpu, 0x201, 0x800, 0x100))).toBe(GP);
    expect(fault(() => wr(cpu, 0x200, 0x106))).toBe(GP); // bit 8
    expect(fault(() => wr(cpu, 0x200, 0x2))).toBe(GP); // type 2
    expect(fault(() => wr(cpu, 0x201, 0x801))).toBe(GP); // bit 0 of a mask
    expect(fault(() => wr(cpu, 0x210, 0))).toBe(GP); // past the 8 pairs
  });

  it('the 11 fixed-range MTRRs keep 8 types each; a reserved type in any byte #GPs', () => {
    const cpu = newCpu();
    const fixed = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f];
    for (const i of fixed) wr(cpu, i, 0x06060606, 0x00010405);
    for (const i of fixed) expect(rd(cpu, i)).toEqual([0x06060606, 0x00010405]);
    expect(fault(() => wr(cpu, 0x259, 0x06060206))).toBe(GP);
    expect(fault(() => wr(cpu, 0x26f, 0x06060606, 0x08000000))).toBe(GP);
    for (const i of [0x251, 0x25a, 0x267, 0x270]) expect(fault(() => rd(cpu, i))).toBe(GP);
  });

  it('PAT keeps eight entries; types 2 and 3 and bits 7:3 of an entry #GP', () => {
    const cpu = newCpu();
    wr(cpu, 0x277, 0x07050401, 0x00010607);
    expect(rd(cpu, 0x277)).toEqual([0x07050401, 0x00010607]);
    expect(fault(() => wr(cpu, 0x277, 0x00000002))).toBe(GP);
    expect(fault(() => wr(cpu, 0x277, 0, 0x03000000))).toBe(GP);
    expect(fault(() => wr(cpu, 0x277, 0x00000800))).toBe(GP);
    expect(rd(cpu, 0x277)).toEqual([0x07050401, 0x00010607]);
  });

  it('PLATFORM_ID, MTRRCAP and the locked FEATURE_CONTROL are read-only', () => {
    const cpu = newCpu();
    for (const i of [0x17, 0xfe, 0x3a]) expect(fault(() => wr(cpu, i, rd(cpu, i)[0], rd(cpu, i)[1]))).toBe(GP);
  });

  it('IA32_DEBUGCTL reads 0 and accepts 0; a feature bit (LBR, BTF, BTS...) #GPs and is logged as unimplemented', () => {
    const lines: string[] = [];
    const mem = new PhysicalMemory(4096);
    mem.mapRam(0, 4096, 0);
    const log = { enabled: (item: string) => item === 'unimp', log: (_item: string, line: string) => lines.push(line) };
    for (const model of [PCVM_MODEL, PCVM32_MODEL]) {
      const cpu = new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => 0, log: log as never }, model);
      expect(rd(cpu, 0x1d9)).toEqual([0, 0]);
      expect(fault(() => wr(cpu, 0x1d9, 0))).toBeUndefined();
      for (const bit of [0, 1, 7]) expect(fault(() => wr(cpu, 0x1d9, 1 << bit))).toBe(GP);
      expect(fault(() => wr(cpu, 0x1d9, 0, 1))).toBe(GP);
      expect(rd(cpu, 0x1d9)).toEqual([0, 0]);
    }
    expect(lines[0]).toMatch(/IA32_DEBUGCTL features not implemented/);
  });

  it('MISC_ENABLE: fast strings writable, read-only bits ignored, unknown bits #GP', () => {
    const cpu = newCpu();
    wr(cpu, 0x1a0, 0x1800); // clear fast strings, write the R/O bits back
    expect(rd(cpu, 0x1a0)).toEqual([0x1800, 0]);
    wr(cpu, 0x1a0, 0x1);
    expect(rd(cpu, 0x1a0)).toEqual([0x1801, 0]); // BTS/PEBS-unavailable stay set
    expect(fault(() => wr(cpu, 0x1a0, 0x1801 | (1 << 18)))).toBe(GP); // MONITOR FSM: no MONITOR
    expect(fault(() => wr(cpu, 0x1a0, 0x1801, 1))).toBe(GP); // bit 32
  });

  it('SYSENTER_CS keeps the selector; SYSENTER_ESP/EIP keep 64-bit canonical addresses', () => {
    const cpu = newCpu();
    wr(cpu, 0x174, 0x12345678);
    expect(rd(cpu, 0x174)).toEqual([0x5678, 0]);
    wr(cpu, 0x175, 0x80001000, 0xffffffff);
    expect(rd(cpu, 0x175)).toEqual([0x80001000, 0xffffffff]);
    expect(fault(() => wr(cpu, 0x176, 0, 0x00008000))).toBe(GP);
  });

  it('on the 32-bit model SYSENTER_ESP/EIP are 32-bit registers (the high dword is ignored)', () => {
    const cpu = newCpu(PCVM32_MODEL);
    wr(cpu, 0x176, 0xc0100000, 0x1234);
    expect(rd(cpu, 0x176)).toEqual([0xc0100000, 0]);
  });
});

describe('MSRs of features CPUID does not advertise raise #GP(0)', () => {
  it.each([
    ['PMC0', 0xc1], ['PERFEVTSEL0', 0x186], ['MC10_CTL (past the 10 banks)', 0x428], ['MCG_EXT_CTL (no LMCE)', 0x4d0],
    ['AMD HWCR', 0xc0010015], ['AMD VM_CR', 0xc0010114], ['PLATFORM_INFO', 0xce], ['RAPL_POWER_UNIT', 0x606],
  ])('%s', (_name, index) => {
    const cpu = newCpu();
    expect(fault(() => rd(cpu, index))).toBe(GP);
    expect(fault(() => wr(cpu, index, 0))).toBe(GP);
  });

  it('the 32-bit model has no STAR/LSTAR/FS_BASE, TSC_AUX or TSC_DEADLINE; EFER exists (XD)', () => {
    const cpu = newCpu(PCVM32_MODEL);
    for (const i of [0xc0000081, 0xc0000082, 0xc0000100, 0xc0000102, 0xc0000103]) expect(fault(() => rd(cpu, i))).toBe(GP);
    expect(rd(cpu, 0xc0000080)).toEqual([0, 0]);
    expect(fault(() => wr(cpu, 0xc0000080, 1 << 8))).toBe(GP); // LME
    expect(fault(() => wr(cpu, 0xc0000080, 1))).toBe(GP); // SCE
    wr(cpu, 0xc0000080, 1 << 11); // NXE
    expect(rd(cpu, 0xc0000080)).toEqual([1 << 11, 0]);
  });
});

describe('IA32_BIOS_SIGN_ID: the microcode-update signature procedure (SDM 9.11.7.1)', () => {
  it('write 0, CPUID.1, read: EDX = the revision; without CPUID the written value stays', () => {
    const h = CpuHarness.flat32();
    // wrmsr(0x8b, 0:0); cpuid(1); rdmsr(0x8b) -> esi
    const proc = [...movEcx(0x8b), ...movEax(0), ...movEdx(0), ...WRMSR, ...movEax(1), ...CPUID, ...movEcx(0x8b), ...RDMSR, 0x89, 0xd6];
    expect(h.run({ code: proc }).regs.esi).toBe(0x71a);
    // Without the CPUID: 0, as written.
    const noCpuid = [...movEcx(0x8b), ...movEax(0), ...movEdx(0), ...WRMSR, ...RDMSR, 0x89, 0xd6];
    expect(h.run({ code: noCpuid }).regs.esi).toBe(0);
    // CPUID of another leaf does not load it.
    const leaf0 = [...movEcx(0x8b), ...movEax(0), ...movEdx(0), ...WRMSR, ...movEax(0), ...CPUID, ...movEcx(0x8b), ...RDMSR, 0x89, 0xd6];
    expect(h.run({ code: leaf0 }).regs.esi).toBe(0);
  });
});

describe('IA32_MISC_ENABLE changes CPUID and EFER', () => {
  it('limit-CPUID-maxval makes leaf 0 report 2', () => {
    const h = CpuHarness.flat32();
    const code = [...movEcx(0x1a0), ...RDMSR, 0x0d, ...le32(1 << 22), ...WRMSR, ...movEax(0), ...CPUID];
    const r = h.run({ code });
    expect(r.regs.eax).toBe(2);
    expect(h.run({ code: [...movEax(0), ...CPUID] }).regs.eax).toBe(0x16);
  });

  it('XD-disable hides CPUID.80000001H:EDX.NX and makes EFER.NXE reserved', () => {
    const cpu = newCpu();
    const misc = rd(cpu, 0x1a0);
    wr(cpu, 0x1a0, misc[0], misc[1] | 4);
    expect(rd(cpu, 0x1a0)[1]).toBe(4);
    expect(fault(() => wr(cpu, 0xc0000080, 1 << 11))).toBe(GP);
    const h = CpuHarness.flat32();
    const code = [...movEcx(0x1a0), ...RDMSR, 0x83, 0xca, 0x04, ...WRMSR, ...movEax(0x80000001), ...CPUID];
    expect(h.run({ code }).regs.edx & (1 << 20)).toBe(0);
    expect(h.run({ code: [...movEax(0x80000001), ...CPUID] }).regs.edx & (1 << 20)).toBe(1 << 20);
  });
});

describe('RDTSCP and IA32_TSC_AUX', () => {
  it('RDTSCP returns the TSC in EDX:EAX and TSC_AUX in ECX', () => {
    const h = CpuHarness.flat32();
    const code = [...movEcx(0xc0000103), ...movEax(0xabcd), ...movEdx(0), ...WRMSR, ...movEcx(0), 0x0f, 0x01, 0xf9];
    const r = h.run({ code, setup: (cpu) => { cpu.s.tscOffset = 0x1_2345_6789; } });
    expect(r.exception).toBeUndefined();
    expect([r.regs.eax, r.regs.edx, r.regs.ecx]).toEqual([0x23456789, 1, 0xabcd]);
  });

  it('TSC_AUX bits 63:32 are reserved', () => {
    const cpu = newCpu();
    expect(fault(() => wr(cpu, 0xc0000103, 0, 1))).toBe(GP);
  });

  it('with CR4.TSD, RDTSCP at CPL 0 still works', () => {
    const h = CpuHarness.flat32();
    const r = h.run({ code: [0x0f, 0x01, 0xf9], setup: (cpu) => { cpu.s.cr4 |= 4; } });
    expect(r.exception).toBeUndefined();
  });

  it('on the 32-bit model RDTSCP is #UD', () => {
    const mem = new PhysicalMemory(4096);
    mem.mapRam(0, 4096, 0);
    mem.ram.set([0x0f, 0x01, 0xf9, 0xf4], 0xff0);
    const cpu = new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => 0, log: NULL_LOGGER }, PCVM32_MODEL);
    // Real mode at 0000:0FF0, IVT vector 6 -> 0000:0F00 (a HLT of its own).
    cpu.s.segSel[1] = 0;
    cpu.s.segBase[1] = 0;
    cpu.s.eip = 0xff0;
    mem.ram.set([0x00, 0x0f, 0x00, 0x00], UD * 4);
    mem.ram[0xf00] = 0xf4;
    cpu.updateMode();
    cpu.run(10);
    expect(cpu.s.eip).toBe(0xf01); // delivered #UD and halted in the handler
  });
});

describe('snapshots (CPU state version 4)', () => {
  function configured(): X86Cpu {
    const cpu = newCpu();
    wr(cpu, 0x2ff, 0xc06);
    wr(cpu, 0x203, 0xfff00800, 0xff);
    wr(cpu, 0x26b, 0x05050505, 0x04040404);
    wr(cpu, 0x277, 0x00070106, 0x00070406);
    wr(cpu, 0x1a0, 0x1800, 4);
    wr(cpu, 0x8b, 0, 0x55);
    wr(cpu, 0xc0000103, 7);
    wr(cpu, 0x174, 0x10);
    wr(cpu, 0x176, 0x81000000, 0xffffffff);
    return cpu;
  }
  const MSRS = [0x2ff, 0x203, 0x26b, 0x277, 0x1a0, 0x8b, 0xc0000103, 0x174, 0x176];

  it('saves and loads every platform MSR', () => {
    const a = configured();
    const data = JSON.parse(JSON.stringify(a.saveState())) as unknown;
    const b = newCpu();
    b.loadState(data, a.stateVersion);
    expect(a.stateVersion).toBe(8);
    for (const i of MSRS) expect(rd(b, i)).toEqual(rd(a, i));
  });

  it('a version-3 stream (no platform MSRs) loads their power-on values', () => {
    const a = configured();
    const data = JSON.parse(JSON.stringify(a.saveState())) as Record<string, unknown>;
    delete data['platform'];
    const b = configured();
    b.loadState(data, 3);
    const fresh = newCpu();
    for (const i of [0x2ff, 0x203, 0x26b, 0x277, 0x1a0, 0x8b, 0xc0000103]) expect(rd(b, i)).toEqual(rd(fresh, i));
    // SYSENTER_* were already in version 3.
    expect(rd(b, 0x176)).toEqual([0x81000000, 0xffffffff]);
  });

  it('a version-4 stream without the platform record, or with an out-of-range value, is refused', () => {
    const a = configured();
    const data = JSON.parse(JSON.stringify(a.saveState())) as Record<string, unknown>;
    const b = newCpu();
    expect(() => b.loadState({ ...data, platform: undefined }, 4)).toThrow(SnapshotError);
    const p = data['platform'] as Record<string, unknown>;
    expect(() => b.loadState({ ...data, platform: { ...p, mtrrFixed: [1, 2] } }, 4)).toThrow(SnapshotError);
    expect(() => b.loadState({ ...data, platform: { ...p, patLo: 2 ** 32 } }, 4)).toThrow(SnapshotError);
    expect(() => b.loadState({ ...data, sysenterEip: 2 ** 48 }, 4)).toThrow(SnapshotError);
  });
});
