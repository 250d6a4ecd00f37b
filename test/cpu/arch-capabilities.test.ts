/**
 * IA32_ARCH_CAPABILITIES (MSR 10AH; SDM Vol. 4 Table 2-2, Intel's "CPUID Enumeration and
 * Architectural MSRs"): enumerated by CPUID.(EAX=7,ECX=0):EDX[29] exactly when RDMSR 10AH
 * works; read-only; reports every "not affected" bit (an interpreter does not speculate) and
 * no mitigation mechanism pcvm lacks. The bit positions are Intel's; the consequences checked
 * in the last test are the conditions Linux 6.1's cpu_set_bug_bits applies (common.c).
 */
import { describe, expect, it } from 'vitest';
import { CpuFault, X86Cpu } from '../../src/cpu/x86/cpu.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';
import { PCVM32_MODEL, PCVM_MODEL } from '../../src/cpu/x86/cpu-model.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { CpuHarness } from '../helpers/cpu-harness.js';

const GP = 13;
const bit = (n: number) => 2 ** n;

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

/** The 64-bit MSR value. */
function value(cpu: X86Cpu): bigint {
  const [lo, hi] = readMsr(cpu, 0x10a);
  return (BigInt(hi) << 32n) | BigInt(lo);
}
const has = (v: bigint, n: number) => ((v >> BigInt(n)) & 1n) === 1n;

describe('IA32_ARCH_CAPABILITIES', () => {
  it('CPUID.(7,0):EDX[29] is set and a guest RDMSR 10AH returns the value (no #GP)', () => {
    expect(cpuid(7, 0)[3] & bit(29)).toBe(bit(29));
    const h = CpuHarness.flat32();
    // mov eax,7; xor ecx,ecx; cpuid; mov esi,edx; mov ecx,0x10a; rdmsr
    const r = h.run({ code: [0xb8, 7, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2, 0x89, 0xd6, 0xb9, 0x0a, 0x01, 0, 0, 0x0f, 0x32] });
    expect(r.exception).toBeUndefined();
    expect(r.regs.esi & bit(29)).toBe(bit(29));
    expect([r.regs.eax, r.regs.edx]).toEqual(readMsr(newCpu(), 0x10a));
  });

  it('reports RDCL_NO, SSB_NO, MDS_NO, IF_PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO, BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO and ITS_NO, nothing else', () => {
    const expected = [0, 4, 5, 6, 8, 13, 14, 15, 20, 24, 26, 27, 62].reduce((v, n) => v | (1n << BigInt(n)), 0n);
    expect(value(newCpu())).toBe(expected);
  });

  it('claims no mechanism pcvm lacks: IBRS_ALL, RSBA, SKIP_L1DFL, TSX_CTRL, FB_CLEAR, RRSBA, GDS_CTRL, RFDS_CLEAR clear; SPEC_CTRL/FLUSH_CMD not advertised', () => {
    const v = value(newCpu());
    for (const n of [1, 2, 3, 7, 17, 18, 19, 25, 28]) expect(has(v, n)).toBe(false);
    // CPUID.(7,0):EDX: no IBRS/IBPB (26), STIBP (27), L1D_FLUSH (28), SSBD (31); IA32_SPEC_CTRL #GP.
    const edx = cpuid(7, 0)[3];
    for (const n of [26, 27, 28, 31]) expect(edx & bit(n)).toBe(0);
    expect(fault(() => readMsr(newCpu(), 0x48))).toBe(GP);
  });

  it('is read-only: WRMSR raises #GP(0) and the value stays', () => {
    const cpu = newCpu();
    const before = readMsr(cpu, 0x10a);
    expect(fault(() => writeMsr(cpu, 0x10a, 0, 0))).toBe(GP);
    expect(readMsr(cpu, 0x10a)).toEqual(before);
  });

  it('the pcvm32 model (maximum basic leaf 2, no leaf 7) has no such MSR', () => {
    const cpu = newCpu(PCVM32_MODEL);
    expect(fault(() => readMsr(cpu, 0x10a))).toBe(GP);
    expect(fault(() => writeMsr(cpu, 0x10a, 0, 0))).toBe(GP);
  });

  it("meets each of Linux's not-affected conditions: no Meltdown/L1TF, SSB, MDS, MMIO stale data, ITLB multihit, BHI, RFDS, ITS", () => {
    const v = value(newCpu());
    expect(has(v, 0)).toBe(true); // RDCL_NO: no X86_BUG_CPU_MELTDOWN (so no PTI) and no L1TF
    expect(has(v, 4)).toBe(true); // SSB_NO: no "Speculative Store Bypass: Vulnerable"
    expect(has(v, 5)).toBe(true); // MDS_NO: no "MDS: Vulnerable"
    expect(has(v, 13) && has(v, 14) && has(v, 15)).toBe(true); // arch_cap_mmio_immune: no "MMIO Stale Data: Unknown"
    expect(has(v, 6)).toBe(true); // PSCHANGE_MC_NO: no ITLB multihit
    expect(has(v, 20)).toBe(true); // BHI_NO
    expect(has(v, 27)).toBe(true); // RFDS_NO
    expect(has(v, 62)).toBe(true); // ITS_NO: a HYPERVISOR-bit guest is otherwise "ITS: Vulnerable"
  });
});
