/**
 * The machine-check architecture (SDM Vol. 3B 15.3): CPUID.1:EDX MCE (7) and MCA (14);
 * IA32_MCG_CAP with QEMU's value (10 banks, MCG_CTL_P, MCG_SER_P: target/i386/cpu.h
 * MCE_CAP_DEF | MCE_BANKS_DEF); IA32_MCG_STATUS/MCG_CTL; the banks' CTL/STATUS/ADDR/MISC with
 * the SDM's write rules (STATUS/ADDR/MISC take only zeros, 15.3.2.2-4); CR4.MCE; snapshots.
 */
import { describe, expect, it } from 'vitest';
import { CpuFault, X86Cpu } from '../../src/cpu/x86/cpu.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';
import { PCVM32_MODEL, PCVM_MODEL } from '../../src/cpu/x86/cpu-model.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { SnapshotError } from '../../src/errors.js';
import { CpuHarness } from '../helpers/cpu-harness.js';

const GP = 13;
const ONES = 0xffffffff;

function newCpu(model = PCVM_MODEL): X86Cpu {
  const mem = new PhysicalMemory(4096);
  mem.mapRam(0, 4096, 0);
  return new X86Cpu({ mem, io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => 0, log: NULL_LOGGER }, model);
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

describe('enumeration', () => {
  it('both models advertise MCE and MCA in CPUID.1:EDX', () => {
    for (const m of [PCVM_MODEL, PCVM32_MODEL]) expect(cpuid(1, 0, undefined, m)[3] & ((1 << 7) | (1 << 14))).toBe((1 << 7) | (1 << 14));
  });

  it('IA32_MCG_CAP = 0x100010A: 10 banks, MCG_CTL_P, MCG_SER_P; no CMCI, threshold, LMCE, extended registers', () => {
    const [lo, hi] = readMsr(newCpu(), 0x179);
    expect([lo, hi]).toEqual([0x0100010a, 0]);
    expect(lo & 0xff).toBe(10);
    for (const n of [9, 10, 11, 27]) expect(lo & (1 << n)).toBe(0); // EXT_P, CMCI_P, TES_P, LMCE_P
    expect(fault(() => writeMsr(newCpu(), 0x179, lo, hi))).toBe(GP);
  });

  it('the banks are 400H-427H; 428H (an 11th bank) and CTL2 (280H, CMCI) do not exist', () => {
    const cpu = newCpu();
    expect(fault(() => readMsr(cpu, 0x427))).toBeUndefined();
    expect(fault(() => readMsr(cpu, 0x428))).toBe(GP);
    expect(fault(() => readMsr(cpu, 0x280))).toBe(GP);
  });
});

describe('registers', () => {
  it('power-on: MCG_STATUS 0, MCG_CTL and every MCi_CTL all ones (as QEMU), no error logged', () => {
    const cpu = newCpu();
    expect(readMsr(cpu, 0x17a)).toEqual([0, 0]);
    expect(readMsr(cpu, 0x17b)).toEqual([ONES, ONES]);
    for (let b = 0; b < 10; b++) {
      expect(readMsr(cpu, 0x400 + 4 * b)).toEqual([ONES, ONES]);
      for (const r of [1, 2, 3]) expect(readMsr(cpu, 0x400 + 4 * b + r)).toEqual([0, 0]);
    }
  });

  it('MCi_CTL keeps any enable mask, per bank', () => {
    const cpu = newCpu();
    writeMsr(cpu, 0x404, 0x12345678, 0x9abcdef0);
    writeMsr(cpu, 0x424, 0, 0);
    expect(readMsr(cpu, 0x404)).toEqual([0x12345678, 0x9abcdef0]);
    expect(readMsr(cpu, 0x424)).toEqual([0, 0]);
    expect(readMsr(cpu, 0x400)).toEqual([ONES, ONES]);
  });

  it('MCi_STATUS, MCi_ADDR and MCi_MISC accept zeros; a one in any bit is #GP(0)', () => {
    const cpu = newCpu();
    for (const r of [1, 2, 3]) {
      expect(fault(() => writeMsr(cpu, 0x408 + r, 0, 0))).toBeUndefined();
      expect(fault(() => writeMsr(cpu, 0x408 + r, 1, 0))).toBe(GP);
      expect(fault(() => writeMsr(cpu, 0x408 + r, 0, 0x80000000))).toBe(GP);
      expect(readMsr(cpu, 0x408 + r)).toEqual([0, 0]);
    }
  });

  it('MCG_STATUS: RIPV, EIPV, MCIP writable, bits 63:3 reserved (#GP)', () => {
    const cpu = newCpu();
    writeMsr(cpu, 0x17a, 5, 0);
    expect(readMsr(cpu, 0x17a)).toEqual([5, 0]);
    expect(fault(() => writeMsr(cpu, 0x17a, 8, 0))).toBe(GP);
    expect(fault(() => writeMsr(cpu, 0x17a, 0, 1))).toBe(GP);
    writeMsr(cpu, 0x17a, 0, 0);
    expect(readMsr(cpu, 0x17a)).toEqual([0, 0]);
  });

  it('MCG_CTL takes all zeros or all ones; other (undefined) values are ignored', () => {
    const cpu = newCpu();
    writeMsr(cpu, 0x17b, 0, 0);
    expect(readMsr(cpu, 0x17b)).toEqual([0, 0]);
    writeMsr(cpu, 0x17b, 0x1234, 0);
    expect(readMsr(cpu, 0x17b)).toEqual([0, 0]);
    writeMsr(cpu, 0x17b, ONES, ONES);
    expect(readMsr(cpu, 0x17b)).toEqual([ONES, ONES]);
  });

  it('CR4.MCE can be set (what Linux does after reading MCG_CAP) and reads back', () => {
    const h = CpuHarness.flat32();
    // mov eax,cr4; or eax,0x40; mov cr4,eax; mov ebx,cr4
    const r = h.run({ code: [0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x40, 0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3] });
    expect(r.exception).toBeUndefined();
    expect(r.regs.ebx & 0x40).toBe(0x40);
  });
});

describe('snapshots (CPU state version 6)', () => {
  it('saves and loads MCG_STATUS, MCG_CTL and the bank enables; reset restores the power-on values', () => {
    const a = newCpu();
    writeMsr(a, 0x17a, 1, 0);
    writeMsr(a, 0x17b, 0, 0);
    writeMsr(a, 0x40c, 0xf0f0, 7);
    const data = JSON.parse(JSON.stringify(a.saveState())) as unknown;
    const b = newCpu();
    b.loadState(data, a.stateVersion);
    expect(readMsr(b, 0x17a)).toEqual([1, 0]);
    expect(readMsr(b, 0x17b)).toEqual([0, 0]);
    expect(readMsr(b, 0x40c)).toEqual([0xf0f0, 7]);
    b.reset();
    expect(readMsr(b, 0x40c)).toEqual([ONES, ONES]);
    expect(readMsr(b, 0x17b)).toEqual([ONES, ONES]);
  });

  it('a version-5 stream (no machine-check record) loads the power-on values', () => {
    const a = newCpu();
    const data = JSON.parse(JSON.stringify(a.saveState())) as Record<string, unknown>;
    delete data['mca'];
    const b = newCpu();
    writeMsr(b, 0x40c, 0, 0);
    b.loadState(data, 5);
    expect(readMsr(b, 0x40c)).toEqual([ONES, ONES]);
  });

  it('a version-6 stream with a missing or out-of-range record is refused', () => {
    const a = newCpu();
    const good = JSON.parse(JSON.stringify(a.saveState())) as Record<string, unknown>;
    const b = newCpu();
    expect(() => b.loadState({ ...good, mca: undefined }, 6)).toThrow(SnapshotError);
    expect(() => b.loadState({ ...good, mca: { ...(good['mca'] as object), mcgStatus: 8 } }, 6)).toThrow(SnapshotError);
    expect(() => b.loadState({ ...good, mca: { ...(good['mca'] as object), bankCtl: [1, 2] } }, 6)).toThrow(SnapshotError);
  });
});
