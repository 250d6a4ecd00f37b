/**
 * The CPU models (cpu-model.ts, cpuid.ts): every CPUID leaf of the default `pcvm` model bit
 * by bit, each advertised feature backed by a working instruction or MSR (and each missing
 * one refused on the 32-bit model), the brand string, cache leaves that agree with each other,
 * one MAXPHYADDR for CPUID and the page walkers, and `-cpu` parsing and help.
 */
import { describe, expect, it } from 'vitest';
import { CpuFault, X86Cpu } from '../../src/cpu/x86/cpu.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { MAXPHYADDR as PAGING_MAXPHYADDR } from '../../src/cpu/x86/paging.js';
import {
  CPU_MODELS, PCVM32_MODEL, PCVM_MODEL, cpuModelHelp, cpuModelOf, findCpuModel, type CpuModel,
} from '../../src/cpu/x86/cpu-model.js';
import { CpuHarness } from '../helpers/cpu-harness.js';
import { APIC_BUS_NS_PER_TICK } from '../../devices/apic/lapic-state.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { ConfigError } from '../../src/errors.js';
import { topicHelpText } from '../../src/cli/help.js';
import { parseCommandLine } from '../../src/cli/options.js';
import { machineFromOptions } from '../../src/cli/machine-from-options.js';

const bit = (n: number) => (1 << n) >>> 0;
const bits = (...ns: number[]) => ns.reduce((a, n) => (a | bit(n)) >>> 0, 0);

function newCpu(model: CpuModel): X86Cpu {
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

function ascii(...regs: number[]): string {
  let s = '';
  for (const r of regs) for (let i = 0; i < 4; i++) s += String.fromCharCode((r >>> (8 * i)) & 0xff);
  return s;
}

describe('the pcvm model, leaf by leaf', () => {
  it('leaf 0: maximum basic leaf 16H, GenuineIntel', () => {
    const [a, b, c, d] = cpuid(0, 0);
    expect(a).toBe(0x16);
    expect(ascii(b, d, c)).toBe('GenuineIntel');
  });

  it('leaf 1: family 6 model 45 stepping 7, CLFLUSH 64 bytes, exactly the implemented features', () => {
    const [a, b, c, d] = cpuid(1, 0);
    expect(a).toBe(0x206d7);
    const family = (a >>> 8) & 0xf, model = ((a >>> 4) & 0xf) | (((a >>> 16) & 0xf) << 4), stepping = a & 0xf;
    expect([family, model, stepping]).toEqual([6, 45, 7]);
    expect(((b >>> 8) & 0xff) * 8).toBe(64);
    // FPU PSE TSC MSR PAE MCE CX8 SEP MTRR PGE MCA CMOV PAT CLFSH MMX FXSR SSE SSE2 (APIC only with one).
    expect(d).toBe(bits(0, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 19, 23, 24, 25, 26));
    // CX16 and the hypervisor bit (TSC-deadline only with an APIC); no SSE3, VMX, MONITOR...
    expect(c).toBe(bits(13, 31));
  });

  it('leaf 2: one call, descriptors for a 32 KiB L1d, 32 KiB L1i and 2 MiB L2, 8-way, 64-byte lines', () => {
    const [a, b, c, d] = cpuid(2, 0);
    expect(a).toBe(0x7d30_2c01);
    expect([b, c, d]).toEqual([0, 0, 0]);
  });

  it('leaf 4: the same three caches, then a null type; sizes agree with leaf 2 and 0x80000006', () => {
    const sizes: string[] = [];
    for (let n = 0; n < 4; n++) {
      const [a, b, c] = cpuid(4, n);
      const type = a & 0x1f;
      if (type === 0) {
        expect(n).toBe(3);
        break;
      }
      const level = (a >>> 5) & 7;
      const line = (b & 0xfff) + 1, parts = ((b >>> 12) & 0x3ff) + 1, ways = (b >>> 22) + 1, sets = c + 1;
      sizes.push(`L${level} type ${type}: ${(line * parts * ways * sets) / 1024} KiB ${ways}-way ${line} B`);
    }
    expect(sizes).toEqual(['L1 type 1: 32 KiB 8-way 64 B', 'L1 type 2: 32 KiB 8-way 64 B', 'L2 type 3: 2048 KiB 8-way 64 B']);
    const l2 = cpuid(0x80000006, 0)[2];
    expect([l2 & 0xff, (l2 >>> 12) & 0xf, l2 >>> 16]).toEqual([64, 6, 2048]);
  });

  it('leaves 3, 5, 6 and 8 to 14H are all zero (no PMU, topology, XSAVE...); leaf 7 has only EBX[1] and EDX[29] (no SMEP, SMAP, FSGSBASE, ...)', () => {
    for (const leaf of [3, 5, 6, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x10, 0x11, 0x12, 0x13, 0x14]) expect(cpuid(leaf, 0)).toEqual([0, 0, 0, 0]);
    expect(cpuid(0xd, 1)).toEqual([0, 0, 0, 0]);
    // Leaf 7 subleaf 0: maximum subleaf 0, IA32_TSC_ADJUST (EBX[1]), IA32_ARCH_CAPABILITIES
    // (EDX[29]); subleaf 1 is zero.
    expect(cpuid(7, 0)).toEqual([0, bit(1), 0, bit(29)]);
    expect(cpuid(7, 1)).toEqual([0, 0, 0, 0]);
  });

  it('leaves 15H and 16H: a 1 GHz TSC (ratio 1:1 to a 1 GHz crystal, the APIC timer clock), base and maximum 1000 MHz', () => {
    // SDM Vol. 2A CPUID 15H: TSC frequency = ECX (crystal Hz) x EBX / EAX.
    const [den, num, crystalHz, d15] = cpuid(0x15, 0);
    expect(d15).toBe(0);
    expect((crystalHz * num) / den).toBe(X86Cpu.TSC_HZ);
    // Linux sets its LAPIC timer period from the crystal (native_calibrate_tsc): it must be the
    // clock the APIC timer counts.
    expect(crystalHz).toBe(1e9 / APIC_BUS_NS_PER_TICK);
    expect(cpuid(0x16, 0)).toEqual([1000, 1000, 100, 0]);
    // Above the maximum, Intel returns the highest basic leaf's data (leaf 16H).
    expect(cpuid(0x17, 0)).toEqual(cpuid(0x16, 0));
    expect(cpuid(0x40000000, 0)).toEqual(cpuid(0x16, 0));
  });

  it('leaf 0x80000001: LAHF64; SYSCALL, NX, 1 GiB pages, RDTSCP, long mode', () => {
    const [, , c, d] = cpuid(0x80000001, 0);
    expect(c).toBe(bits(0));
    expect(d).toBe(bits(11, 20, 26, 27, 29));
  });

  it('leaves 0x80000002-4: the brand string', () => {
    let s = '';
    for (let l = 0x80000002; l <= 0x80000004; l++) s += ascii(...cpuid(l, 0));
    expect(s).toBe('pcvm Virtual CPU'.padEnd(48, '\0'));
  });

  it('leaf 0x80000007: invariant TSC; leaf 0x80000008: 40 physical, 48 linear bits — the MAXPHYADDR the walkers use', () => {
    expect(cpuid(0x80000007, 0)).toEqual([0, 0, 0, bit(8)]);
    const a = cpuid(0x80000008, 0)[0];
    expect([a & 0xff, (a >>> 8) & 0xff]).toEqual([40, 48]);
    expect(PAGING_MAXPHYADDR).toBe(a & 0xff);
    expect(cpuid(0x80000000, 0)[0]).toBe(0x80000008);
  });

  it('with an APIC: the initial APIC ID, TSC-deadline, and the APIC bit while it is enabled', () => {
    const apic = {
      initialApicId: 3, globallyEnabled: true, readApicBase: () => 0, writeApicBase: () => {},
      readTscDeadline: (): [number, number] => [0, 0], writeTscDeadline: () => {}, getTpr: () => 0, setTpr: () => {},
    };
    const [, b, c, d] = cpuid(1, 0, apic);
    expect(b >>> 24).toBe(3);
    expect(c & bit(24)).toBe(bit(24));
    expect(d & bit(9)).toBe(bit(9));
    expect(cpuid(1, 0, apic, PCVM32_MODEL)[2] & bit(24)).toBe(0);
  });

  it('RESET leaves the signature in EDX', () => {
    for (const m of CPU_MODELS) expect(newCpu(m).s.gpr[2]! >>> 0).toBe(m.signature);
  });
});

describe('each advertised feature works; each left out is refused', () => {
  it('SEP: SYSENTER does not #UD; RDTSCP (0F 01 F9) does not #UD', () => {
    const h = CpuHarness.flat32();
    // SYSENTER with SYSENTER_CS = 0 is #GP (not #UD): the instruction exists.
    expect(h.run({ code: [0x0f, 0x34] }).exception?.vector).toBe(13);
    expect(h.run({ code: [0x0f, 0x01, 0xf9] }).exception).toBeUndefined();
  });

  it('MTRR and PAT: their MSRs exist; MSR, TSC: RDMSR/RDTSC work', () => {
    const cpu = newCpu(PCVM_MODEL);
    expect(readMsr(cpu, 0xfe)[0] & 0xff).toBe(8);
    expect(readMsr(cpu, 0x277)).toEqual([0x00070406, 0x00070406]);
    expect(fault(() => readMsr(cpu, 0x10))).toBeUndefined();
  });

  it('SYSCALL, LM, NX: EFER.SCE, LME and NXE are writable on pcvm, only NXE on pcvm32', () => {
    const a = newCpu(PCVM_MODEL);
    writeMsr(a, 0xc0000080, 0x901, 0);
    expect(readMsr(a, 0xc0000080)).toEqual([0x901, 0]);
    const b = newCpu(PCVM32_MODEL);
    expect(fault(() => writeMsr(b, 0xc0000080, 0x100, 0))).toBe(13);
    expect(fault(() => writeMsr(b, 0xc0000080, 0x1, 0))).toBe(13);
    writeMsr(b, 0xc0000080, 0x800, 0);
    expect(readMsr(b, 0xc0000080)).toEqual([0x800, 0]);
  });

  it('pcvm32: maximum basic leaf 2, no long mode / SYSCALL / RDTSCP / 1 GiB / LAHF64 / CX16 / invariant TSC', () => {
    expect(cpuid(0, 0, undefined, PCVM32_MODEL)[0]).toBe(2);
    expect(cpuid(1, 0, undefined, PCVM32_MODEL)[0]).toBe(0x6d8);
    expect(cpuid(1, 0, undefined, PCVM32_MODEL)[2]).toBe(bit(31));
    expect(cpuid(1, 0, undefined, PCVM32_MODEL)[3]).toBe(cpuid(1, 0)[3]);
    expect(cpuid(0x80000001, 0, undefined, PCVM32_MODEL)).toEqual([0, 0, 0, bit(20)]);
    expect(cpuid(0x80000007, 0, undefined, PCVM32_MODEL)).toEqual([0, 0, 0, 0]);
    // Leaf 4 is beyond its maximum: the leaf 2 data comes back.
    expect(cpuid(4, 0, undefined, PCVM32_MODEL)).toEqual(cpuid(2, 0, undefined, PCVM32_MODEL));
    let s = '';
    for (let l = 0x80000002; l <= 0x80000004; l++) s += ascii(...cpuid(l, 0, undefined, PCVM32_MODEL));
    expect(s.replace(/\0+$/, '')).toBe('pcvm Virtual CPU (32-bit)');
  });
});

describe('-cpu', () => {
  it('names resolve: pcvm, pcvm32, max = pcvm', () => {
    expect(findCpuModel('pcvm')).toEqual({ model: PCVM_MODEL });
    expect(findCpuModel('pcvm32')).toEqual({ model: PCVM32_MODEL });
    expect(findCpuModel('max')).toEqual({ model: PCVM_MODEL });
  });

  it("unknown models get QEMU's message; host needs KVM; feature flags are refused", () => {
    expect(findCpuModel('x')).toEqual({ error: "unable to find CPU model 'x'" });
    expect(findCpuModel('qemu64')).toEqual({ error: "unable to find CPU model 'qemu64'" });
    expect(findCpuModel('host')).toEqual({ error: "CPU model 'host' requires KVM or HVF" });
    expect(findCpuModel('pcvm,+ssse3')).toHaveProperty('error');
  });

  it('a machine config picks the model (default pcvm); an unknown name is a ConfigError', () => {
    expect(cpuModelOf({})).toBe(PCVM_MODEL);
    expect(cpuModelOf({ cpuModel: 'pcvm32' })).toBe(PCVM32_MODEL);
    expect(() => cpuModelOf({ cpuModel: 'nope' })).toThrow(ConfigError);
  });

  it('-cpu MODEL,+vmx on the command line reaches the machine config (CPUID.1:ECX.VMX); -vmx or none leaves it off', () => {
    const vmxOf = (...argv: string[]): boolean => {
      const setup = machineFromOptions(parseCommandLine(argv), process.stdout);
      setup.close();
      return cpuModelOf(setup.config).vmx === true;
    };
    expect(vmxOf('-cpu', 'pcvm,+vmx')).toBe(true);
    expect(vmxOf('-cpu', 'max,vmx=on')).toBe(true);
    expect(vmxOf('-cpu', 'pcvm32,+vmx')).toBe(true);
    expect(vmxOf('-cpu', 'pcvm,+vmx,-vmx')).toBe(false);
    expect(vmxOf('-cpu', 'pcvm')).toBe(false);
    expect(vmxOf()).toBe(false);
  });

  it('-cpu help lists the models, max and host', () => {
    const text = topicHelpText({ topic: 'cpu' });
    for (const [name] of cpuModelHelp()) expect(text).toContain(`x86 ${name}`);
    expect(text).toMatch(/x86 pcvm32 +pcvm Virtual CPU, 32-bit/);
    expect(cpuModelHelp().map(([n]) => n)).toEqual(['pcvm', 'pcvm32', 'max', 'host']);
  });
});
