/**
 * CPUID: the CPU model pcvm presents. Feature bits advertise exactly what the interpreter
 * implements, nothing more — a guest that trusts CPUID must never hit a missing instruction.
 * The model grows with the CPU (FPU, PAE, SSE…); each bit is set here only when its
 * instructions are done and tested.
 */

/** CPUID.1:EDX bits pcvm implements today. */
const FEAT_EDX_TSC = 1 << 4;
const FEAT_EDX_MSR = 1 << 5;
const FEAT_EDX_CX8 = 1 << 8;
const FEAT_EDX_CMOV = 1 << 15;
const FEAT_EDX_CLFSH = 1 << 19;
const FEAT_EDX_MMX = 1 << 23;
const FEAT_EDX_FXSR = 1 << 24;
const FEAT_EDX_SSE = 1 << 25;
const FEAT_EDX_SSE2 = 1 << 26;
/** CLFLUSH line size in EBX[15:8], in 8-byte units (64 bytes). */
const CLFLUSH_LINE_UNITS = 8;

/** Family 6, model 6, stepping 3: a P6-class part without an FPU advertised yet. */
export const CPU_SIGNATURE = 0x00000663;

const VENDOR = 'GenuineIntel';

function vendorDword(offset: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= VENDOR.charCodeAt(offset + i) << (8 * i);
  return v >>> 0;
}

/** Returns [EAX, EBX, ECX, EDX] for leaf `eax`, subleaf `ecx`. */
export function cpuid(leaf: number, _subleaf: number): [number, number, number, number] {
  const maxBasic = 1;
  const maxExtended = 0x80000000;
  leaf >>>= 0;
  if (leaf >= 0x80000000) {
    // Extended leaves: only the range query; above it Intel returns the highest basic leaf.
    if (leaf === 0x80000000) return [maxExtended, 0, 0, 0];
    leaf = maxBasic;
  } else if (leaf > maxBasic) {
    leaf = maxBasic;
  }
  switch (leaf) {
    case 0:
      // EBX, EDX, ECX spell the vendor string.
      return [maxBasic, vendorDword(0), vendorDword(8), vendorDword(4)];
    default:
      return [CPU_SIGNATURE, CLFLUSH_LINE_UNITS << 8, 0,
        (FEAT_EDX_TSC | FEAT_EDX_MSR | FEAT_EDX_CX8 | FEAT_EDX_CMOV | FEAT_EDX_CLFSH | FEAT_EDX_MMX | FEAT_EDX_FXSR |
          FEAT_EDX_SSE | FEAT_EDX_SSE2) >>> 0];
  }
}
