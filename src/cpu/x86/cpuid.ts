/**
 * CPUID (SDM Vol. 2A): the leaves of the CPU model `-cpu` selected (cpu-model.ts). Feature
 * bits advertise exactly what the interpreter implements, nothing more — a guest that trusts
 * CPUID must never hit a missing instruction. Two MSRs shape the answer: IA32_MISC_ENABLE's
 * limit-CPUID-maxval (leaf 0 reports at most 2) and XD-disable (no NX bit), and executing
 * leaf 1 loads the microcode revision into IA32_BIOS_SIGN_ID (msr-platform.ts).
 */
import type { CpuApic } from './apic-interface.js';
import {
  brandLeaf, CORE_CRYSTAL_HZ, DEFAULT_CPU_MODEL, ExtEdx, Feat1Ecx, Feat1Edx, leaf2, leaf4, leaf80000006, LINEAR_ADDR_BITS,
  MAXPHYADDR, TSC_HZ, vendorLeaf, type CpuModel,
} from './cpu-model.js';
import { LEAF7_EDX_ARCH_CAPABILITIES } from './arch-capabilities.js';
import { MiscEnable, MISC_ENABLE_HI_XD_DISABLE } from './platform-msrs.js';
import { latchMicrocodeRevision } from './msr-platform.js';
import { Reg } from './state.js';
import type { X86Cpu } from './cpu.js';

/** CLFLUSH line size in CPUID.1:EBX[15:8], in 8-byte units (64 bytes). */
const CLFLUSH_LINE_UNITS = 8;
const MAX_EXTENDED_LEAF = 0x80000008;
/** CPUID.(7,0):EBX[1]: the IA32_TSC_ADJUST MSR. */
const LEAF7_EBX_TSC_ADJUST = 1 << 1;

/** The IA32_MISC_ENABLE bits that change CPUID. */
export interface CpuidControls {
  limitMaxBasic: boolean;
  xdDisabled: boolean;
}
const NO_CONTROLS: CpuidControls = { limitMaxBasic: false, xdDisabled: false };

/**
 * Returns [EAX, EBX, ECX, EDX] for leaf `eax`, subleaf `ecx`. `apic` is the CPU's local APIC,
 * if it has one: it decides the APIC bit, the initial APIC ID and TSC-deadline.
 */
export function cpuid(
  leaf: number, subleaf: number, apic?: CpuApic, model: CpuModel = DEFAULT_CPU_MODEL, controls: CpuidControls = NO_CONTROLS,
): [number, number, number, number] {
  const maxBasic = controls.limitMaxBasic ? Math.min(2, model.maxBasicLeaf) : model.maxBasicLeaf;
  leaf >>>= 0;
  if (leaf >= 0x80000000) {
    switch (leaf) {
      case 0x80000000: return [MAX_EXTENDED_LEAF, 0, 0, 0];
      case 0x80000001: {
        const edx = controls.xdDisabled ? model.extEdx & ~ExtEdx.NX : model.extEdx;
        return [0, 0, model.extEcx >>> 0, edx >>> 0];
      }
      case 0x80000002: case 0x80000003: case 0x80000004: return brandLeaf(model, leaf);
      case 0x80000006: return leaf80000006(model);
      case 0x80000007: return [0, 0, 0, model.powerEdx >>> 0];
      case 0x80000008: return [MAXPHYADDR | (LINEAR_ADDR_BITS << 8), 0, 0, 0];
      default:
        // 0x80000005 is reserved on Intel parts: zeros.
        if (leaf <= MAX_EXTENDED_LEAF) return [0, 0, 0, 0];
    }
    // Above the range Intel returns the highest basic leaf's data.
    leaf = maxBasic;
  } else if (leaf > maxBasic) {
    leaf = maxBasic;
  }
  switch (leaf) {
    case 0: return vendorLeaf(maxBasic);
    case 1: {
      let ebx = CLFLUSH_LINE_UNITS << 8;
      let ecx = model.feat1Ecx;
      if (model.vmx) ecx |= Feat1Ecx.VMX;
      let edx = model.feat1Edx;
      if (apic) {
        ebx |= (apic.initialApicId & 0xff) << 24;
        if (model.tscDeadline) ecx |= Feat1Ecx.TSC_DEADLINE;
        if (apic.globallyEnabled) edx |= Feat1Edx.APIC;
      }
      return [model.signature, ebx >>> 0, ecx >>> 0, edx >>> 0];
    }
    case 2: return leaf2(model);
    case 4: return leaf4(model, subleaf >>> 0);
    case 7:
      // Structured extended features, subleaf 0 (the maximum subleaf, EAX = 0): no SMEP, SMAP,
      // FSGSBASE...; EBX[1] when the model has IA32_TSC_ADJUST, EDX[29] when it has
      // IA32_ARCH_CAPABILITIES (arch-capabilities.ts).
      if ((subleaf >>> 0) !== 0) return [0, 0, 0, 0];
      return [0, model.tscAdjust ? LEAF7_EBX_TSC_ADJUST : 0, 0, model.archCapabilities ? LEAF7_EDX_ARCH_CAPABILITIES : 0];
    case 0x15:
      // TSC and core crystal clock (SDM Vol. 2A CPUID 15H): TSC = crystal x EBX / EAX.
      return [1, TSC_HZ / CORE_CRYSTAL_HZ, CORE_CRYSTAL_HZ, 0];
    case 0x16: {
      // Processor frequency information in MHz: base, maximum, bus (reference) frequency.
      const mhz = TSC_HZ / 1e6;
      return [mhz, mhz, 100, 0];
    }
    default:
      // Leaves 3 (serial number, disabled), 5 (MONITOR), 6 (power management) and 8 to 14H
      // (PMU, topology, XSAVE, RDT, SGX, PT: none of them implemented) are all zero.
      return [0, 0, 0, 0];
  }
}

/** The CPUID instruction: the model's answer for EAX/ECX, with the MSR side effects. */
export function executeCpuid(cpu: X86Cpu): void {
  const g = cpu.s.gpr;
  const p = cpu.s.platform;
  const leaf = g[Reg.EAX]! >>> 0;
  const controls: CpuidControls = {
    limitMaxBasic: (p.miscEnableLo & MiscEnable.LIMIT_CPUID) !== 0,
    xdDisabled: (p.miscEnableHi & MISC_ENABLE_HI_XD_DISABLE) !== 0,
  };
  const [a, b, c, d] = cpuid(leaf, g[Reg.ECX]! >>> 0, cpu.bus.apic, cpu.model, controls);
  if (leaf === 1) latchMicrocodeRevision(cpu);
  cpu.setReg32(Reg.EAX, a);
  cpu.setReg32(Reg.EBX, b);
  cpu.setReg32(Reg.ECX, c);
  cpu.setReg32(Reg.EDX, d);
}
