/**
 * CPUID: the CPU model pcvm presents. Feature bits advertise exactly what the interpreter
 * implements, nothing more — a guest that trusts CPUID must never hit a missing instruction.
 * The model grows with the CPU (FPU, PAE, SSE…); each bit is set here only when its
 * instructions are done and tested.
 */

/** CPUID.1:EDX bits pcvm implements today. */
const FEAT_EDX_FPU = 1 << 0;
const FEAT_EDX_TSC = 1 << 4;
const FEAT_EDX_MSR = 1 << 5;
const FEAT_EDX_CX8 = 1 << 8;
const FEAT_EDX_CMOV = 1 << 15;

/** Family 6, model 6, stepping 3: a P6-class part. */
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
      return [CPU_SIGNATURE, 0, 0, (FEAT_EDX_FPU | FEAT_EDX_TSC | FEAT_EDX_MSR | FEAT_EDX_CX8 | FEAT_EDX_CMOV) >>> 0];
  }
}
