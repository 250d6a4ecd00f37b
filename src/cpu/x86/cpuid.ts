/**
 * CPUID: the CPU model pcvm presents. Feature bits advertise exactly what the interpreter
 * implements, nothing more — a guest that trusts CPUID must never hit a missing instruction.
 * The model grows with the CPU (FPU, PAE, SSE…); each bit is set here only when its
 * instructions are done and tested.
 */
import type { CpuApic } from './apic-interface.js';

/** CPUID.1:EDX bits pcvm implements today. */
const FEAT_EDX_FPU = 1 << 0;
const FEAT_EDX_PSE = 1 << 3;
const FEAT_EDX_TSC = 1 << 4;
const FEAT_EDX_MSR = 1 << 5;
const FEAT_EDX_PAE = 1 << 6;
const FEAT_EDX_CX8 = 1 << 8;
/** On-chip APIC, present while IA32_APIC_BASE[11] enables it (SDM Vol. 3A 10.4.3). */
const FEAT_EDX_APIC = 1 << 9;
const FEAT_EDX_PGE = 1 << 13;
const FEAT_EDX_CMOV = 1 << 15;
/** CPUID.1:ECX: the local APIC timer has TSC-deadline mode (IA32_TSC_DEADLINE). */
const FEAT_ECX_TSC_DEADLINE = 1 << 24;
const FEAT_EDX_CLFSH = 1 << 19;
const FEAT_EDX_MMX = 1 << 23;
const FEAT_EDX_FXSR = 1 << 24;
const FEAT_EDX_SSE = 1 << 25;
const FEAT_EDX_SSE2 = 1 << 26;
/** CLFLUSH line size in EBX[15:8], in 8-byte units (64 bytes). */
const CLFLUSH_LINE_UNITS = 8;
/** CPUID.1:ECX.CX16: CMPXCHG16B. */
const FEAT_ECX_CX16 = 1 << 13;

/** CPUID.80000001H:EDX: SYSCALL/SYSRET (bit 11) and Intel 64 long mode (bit 29). */
const EXT_EDX_SYSCALL = 1 << 11;
const EXT_EDX_LM = 1 << 29;
/** CPUID.80000001H:ECX: LAHF/SAHF in 64-bit mode. */
const EXT_ECX_LAHF = 1 << 0;
/** CPUID.80000008H:EAX: physical (7:0) and linear (15:8) address widths. */
const ADDRESS_SIZES = 40 | (48 << 8);

/** CPUID.80000001h:EDX bits: execute-disable (EFER.NXE) and 1 GiB pages (4-level paging). */
const EXT_EDX_NX = 1 << 20;
const EXT_EDX_PAGE1GB = 1 << 26;

/** Family 6, model 6, stepping 3: a P6-class part. */
export const CPU_SIGNATURE = 0x00000663;

const VENDOR = 'GenuineIntel';

function vendorDword(offset: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= VENDOR.charCodeAt(offset + i) << (8 * i);
  return v >>> 0;
}

/**
 * Returns [EAX, EBX, ECX, EDX] for leaf `eax`, subleaf `ecx`. `apic` is the CPU's local APIC,
 * if it has one: it decides the APIC bit, the initial APIC ID and TSC-deadline.
 */
export function cpuid(leaf: number, _subleaf: number, apic?: CpuApic): [number, number, number, number] {
  const maxBasic = 1;
  const maxExtended = 0x80000008;
  leaf >>>= 0;
  if (leaf >= 0x80000000) {
    switch (leaf) {
      case 0x80000000: return [maxExtended, 0, 0, 0];
      case 0x80000001: return [0, 0, EXT_ECX_LAHF, (EXT_EDX_SYSCALL | EXT_EDX_NX | EXT_EDX_PAGE1GB | EXT_EDX_LM) >>> 0];
      case 0x80000008: return [ADDRESS_SIZES, 0, 0, 0];
      default:
        // Leaves 0x80000002-7 (brand string, cache details) are not modelled: zeros, as an
        // Intel part returns for reserved leaves inside the range.
        if (leaf <= maxExtended) return [0, 0, 0, 0];
    }
    // Above the range Intel returns the highest basic leaf.
    leaf = maxBasic;
  } else if (leaf > maxBasic) {
    leaf = maxBasic;
  }
  switch (leaf) {
    case 0:
      // EBX, EDX, ECX spell the vendor string.
      return [maxBasic, vendorDword(0), vendorDword(8), vendorDword(4)];
    default: {
      let ebx = CLFLUSH_LINE_UNITS << 8;
      let ecx = FEAT_ECX_CX16;
      let edx = FEAT_EDX_FPU | FEAT_EDX_PSE | FEAT_EDX_TSC | FEAT_EDX_MSR | FEAT_EDX_PAE | FEAT_EDX_CX8 | FEAT_EDX_PGE | FEAT_EDX_CMOV |
        FEAT_EDX_CLFSH | FEAT_EDX_MMX | FEAT_EDX_FXSR | FEAT_EDX_SSE | FEAT_EDX_SSE2;
      if (apic) {
        ebx |= (apic.initialApicId & 0xff) << 24;
        ecx |= FEAT_ECX_TSC_DEADLINE;
        if (apic.globallyEnabled) edx |= FEAT_EDX_APIC;
      }
      return [CPU_SIGNATURE, ebx >>> 0, ecx >>> 0, edx >>> 0];
    }
  }
}
