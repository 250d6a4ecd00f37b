/**
 * The CPU models `-cpu` selects: what CPUID reports (signature, brand string, feature bits,
 * cache geometry) and the few model-specific values behind MSRs (microcode revision, platform
 * ID). Feature bits list exactly what the interpreter implements; a model may leave features
 * out (the code then refuses them: EFER bits, RDTSCP, the long-mode MSRs) but never adds one.
 *
 * Every model reports CPUID 0x80000008 with the one physical-address width of the
 * implementation, MAXPHYADDR (40 bits): the page walkers, CR3 and the MTRR masks use it.
 */

import { ConfigError } from '../../errors.js';
import { NOT_AFFECTED_ARCH_CAPABILITIES } from './arch-capabilities.js';

/** The physical-address width (CPUID 0x80000008:EAX[7:0]; SDM Vol. 3A 4.1.4). */
export const MAXPHYADDR = 40;
/** The linear-address width (4-level paging). */
export const LINEAR_ADDR_BITS = 48;

/** CPUID.1:EDX feature bits (SDM Vol. 2A Table 3-11). */
export const enum Feat1Edx {
  FPU = 1 << 0, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6, CX8 = 1 << 8,
  /** On-chip APIC, reported while IA32_APIC_BASE[11] enables it (SDM Vol. 3A 10.4.3). */
  APIC = 1 << 9,
  /** SYSENTER/SYSEXIT and the IA32_SYSENTER_* MSRs. */
  SEP = 1 << 11,
  /** Machine-check exception (#MC, CR4.MCE) and machine-check architecture (machine-check.ts). */
  MCE = 1 << 7,
  MCA = 1 << 14,
  MTRR = 1 << 12, PGE = 1 << 13, CMOV = 1 << 15, PAT = 1 << 16, CLFSH = 1 << 19,
  MMX = 1 << 23, FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26,
}

/** CPUID.1:ECX feature bits (SDM Vol. 2A Table 3-10). */
export const enum Feat1Ecx {
  /** Virtual-machine extensions (vmx/): set on models with `vmx`. */
  VMX = 1 << 5,
  CX16 = 1 << 13,
  /** The local APIC timer has TSC-deadline mode (reported only with an APIC). */
  TSC_DEADLINE = 1 << 24,
  /** Reserved for hypervisor use: set by QEMU (TCG and KVM) to say "running in a VM". */
  HYPERVISOR = 1 << 31,
}

/** CPUID.80000001H:EDX and ECX bits. */
export const enum ExtEdx {
  SYSCALL = 1 << 11, NX = 1 << 20, PAGE1GB = 1 << 26, RDTSCP = 1 << 27, LM = 1 << 29,
}
export const enum ExtEcx {
  /** LAHF/SAHF in 64-bit mode. */
  LAHF = 1 << 0,
}

/**
 * The time-stamp counter's rate: one tick per virtual ns, so that cycles and ns are equal, as
 * simple as exact. CPUID reports it (leaves 15H and 16H) on models whose leaf range has them.
 */
export const TSC_HZ = 1_000_000_000;

/**
 * The core crystal clock of CPUID leaf 15H:ECX. Software treats it as the local APIC timer's
 * clock (Linux's native_calibrate_tsc sets its LAPIC timer period from it), and pcvm's APIC
 * timer counts one tick per virtual ns (devices/apic/lapic-state.ts APIC_BUS_NS_PER_TICK), so
 * the crystal is 1 GHz and the TSC/crystal ratio 1:1.
 */
export const CORE_CRYSTAL_HZ = 1_000_000_000;

/** CPUID.80000007H:EDX bit 8: the TSC runs at a constant rate in every state. */
export const INVARIANT_TSC = 1 << 8;

/** One cache as leaf 4 describes it (SDM Vol. 2A CPUID leaf 04H). */
export interface CacheInfo {
  /** 1 data, 2 instruction, 3 unified. */
  readonly type: 1 | 2 | 3;
  readonly level: number;
  readonly sizeKiB: number;
  readonly ways: number;
  readonly lineBytes: number;
  /** The leaf 2 descriptor byte for the same geometry (SDM Vol. 2A Table 3-12). */
  readonly descriptor: number;
}

export interface CpuModel {
  /** The `-cpu` name. */
  readonly name: string;
  /** The `-cpu help` line. */
  readonly description: string;
  /** CPUID.1:EAX: stepping 3:0, model 7:4, family 11:8, extended model 19:16. */
  readonly signature: number;
  /** The brand string of leaves 0x80000002-4 (at most 47 characters). */
  readonly brand: string;
  readonly maxBasicLeaf: number;
  readonly feat1Edx: number;
  /** CPUID.1:ECX without TSC_DEADLINE, which is added when the CPU has a local APIC. */
  readonly feat1Ecx: number;
  readonly tscDeadline: boolean;
  readonly extEdx: number;
  readonly extEcx: number;
  /** CPUID 0x80000007:EDX. */
  readonly powerEdx: number;
  /** The revision IA32_BIOS_SIGN_ID[63:32] reports after CPUID.1 (SDM Vol. 3A 9.11.7). */
  readonly microcodeRevision: number;
  /** IA32_PLATFORM_ID[52:50] (the microcode's processor-flags index). */
  readonly platformId: number;
  readonly caches: readonly CacheInfo[];
  /** VMX (Intel VT-x, src/cpu/x86/vmx/): `-cpu MODEL,+vmx`. */
  readonly vmx?: boolean;
  /**
   * IA32_ARCH_CAPABILITIES as [low, high] (arch-capabilities.ts), on models whose leaf 7 is in
   * range; CPUID.(7,0):EDX[29] is set exactly when it is present.
   */
  readonly archCapabilities?: readonly [number, number];
  /**
   * IA32_TSC_ADJUST (CPUID.(7,0):EBX[1]; msr.ts), on models whose leaf 7 is in range. With
   * the invariant TSC it tells Linux that a change to any CPU's TSC would be seen, so Linux
   * trusts the TSC without a clocksource watchdog (check_system_tsc_reliable).
   */
  readonly tscAdjust?: boolean;
}

const VENDOR = 'GenuineIntel';

/**
 * One cache hierarchy for every model (the caches do not exist: memory is coherent and
 * uncached in an emulator; the numbers only need to be consistent between leaves 2, 4 and
 * 0x80000006). 32 KiB 8-way L1d and L1i, a 2 MiB 8-way unified L2, 64-byte lines (the CLFLUSH
 * line size of CPUID.1:EBX[15:8]).
 */
const CACHES: readonly CacheInfo[] = [
  { type: 1, level: 1, sizeKiB: 32, ways: 8, lineBytes: 64, descriptor: 0x2c },
  { type: 2, level: 1, sizeKiB: 32, ways: 8, lineBytes: 64, descriptor: 0x30 },
  { type: 3, level: 2, sizeKiB: 2048, ways: 8, lineBytes: 64, descriptor: 0x7d },
];

const BASE_EDX = Feat1Edx.FPU | Feat1Edx.PSE | Feat1Edx.TSC | Feat1Edx.MSR | Feat1Edx.PAE | Feat1Edx.MCE | Feat1Edx.CX8 |
  Feat1Edx.SEP | Feat1Edx.MCA | Feat1Edx.MTRR | Feat1Edx.PGE | Feat1Edx.CMOV | Feat1Edx.PAT | Feat1Edx.CLFSH |
  Feat1Edx.MMX | Feat1Edx.FXSR | Feat1Edx.SSE | Feat1Edx.SSE2;

/**
 * The default model: everything pcvm implements. The signature is a real part whose features
 * are a superset of these: family 6, model 45, stepping 7 (Sandy Bridge-EP, Xeon E5-2600
 * C2). Earlier Intel families lack some of what is advertised — Core 2 (6/15) has no 1 GiB
 * pages, RDTSCP, TSC-deadline or invariant TSC; Nehalem/Westmere no TSC-deadline — so a
 * Core-2 signature would describe a CPU that cannot exist. The microcode revision 0x71a is
 * that part's last public update (above Linux's "bad Spectre microcode" list for 6/45/7).
 * Leaf 7 is in range and all zero (no SMEP, SMAP, FSGSBASE...) but for EBX[1],
 * IA32_TSC_ADJUST, and EDX[29], IA32_ARCH_CAPABILITIES, which says which speculative-execution
 * problems the CPU does not have (all of them). Leaves 8 to 14H are in range and all zero: no architectural PMU (leaf
 * 0AH), no x2APIC topology (0BH), no XSAVE (0DH), no RDT, SGX or PT. Leaves 15H and 16H say
 * what the TSC's and the core's frequencies are (TSC_HZ), as CPUs from Skylake on do, so a
 * guest knows them exactly instead of timing the TSC against the PIT: a calibration that
 * needs every loop pass within 10x of the fastest (Linux's pit_calibrate_tsc) or no stall
 * longer than one PIT MSB period, 214 us (quick_pit_calibrate), which a JavaScript host's
 * translation and garbage-collection pauses cannot promise. Sandy Bridge itself stopped at
 * leaf 0DH; a virtual CPU with the hypervisor bit set may describe its clocks.
 */
export const PCVM_MODEL: CpuModel = {
  name: 'pcvm',
  description: 'pcvm Virtual CPU (all implemented features; Sandy Bridge-EP signature)',
  signature: 0x000206d7,
  brand: 'pcvm Virtual CPU',
  maxBasicLeaf: 0x16,
  feat1Edx: BASE_EDX,
  feat1Ecx: Feat1Ecx.CX16 | Feat1Ecx.HYPERVISOR,
  tscDeadline: true,
  extEdx: ExtEdx.SYSCALL | ExtEdx.NX | ExtEdx.PAGE1GB | ExtEdx.RDTSCP | ExtEdx.LM,
  extEcx: ExtEcx.LAHF,
  powerEdx: INVARIANT_TSC,
  microcodeRevision: 0x71a,
  platformId: 0,
  caches: CACHES,
  archCapabilities: NOT_AFFECTED_ARCH_CAPABILITIES,
  tscAdjust: true,
};

/**
 * A 32-bit model: the same core without Intel 64 (no long mode, SYSCALL, LAHF64, CMPXCHG16B,
 * 1 GiB pages, RDTSCP) and without TSC-deadline or invariant TSC, with the signature of a
 * Pentium M 'Dothan' C0 (family 6, model 13, stepping 8: SSE2, PAE and XD, no SSE3, no long
 * mode; maximum basic leaf 2). For 32-bit guests that probe for long mode.
 */
export const PCVM32_MODEL: CpuModel = {
  name: 'pcvm32',
  description: 'pcvm Virtual CPU, 32-bit only (no long mode; Pentium M signature)',
  signature: 0x000006d8,
  brand: 'pcvm Virtual CPU (32-bit)',
  maxBasicLeaf: 2,
  feat1Edx: BASE_EDX,
  feat1Ecx: Feat1Ecx.HYPERVISOR,
  tscDeadline: false,
  extEdx: ExtEdx.NX,
  extEcx: 0,
  powerEdx: 0,
  microcodeRevision: 0x20,
  platformId: 0,
  caches: CACHES,
};

export const DEFAULT_CPU_MODEL = PCVM_MODEL;

/** The models `-cpu` accepts, in `-cpu help` order. */
export const CPU_MODELS: readonly CpuModel[] = [PCVM_MODEL, PCVM32_MODEL];

/** `-cpu max`: everything the accelerator (the interpreter) supports — the default model. */
const ALIASES: Readonly<Record<string, CpuModel>> = { max: PCVM_MODEL };

/** The `-cpu help` rows: [name, description]. */
export function cpuModelHelp(): [string, string][] {
  return [
    ...CPU_MODELS.map((m): [string, string] => [m.name, m.description]),
    ['max', 'Enables all features supported by the accelerator in the current host'],
    ['host', 'processor with all supported host features (needs KVM)'],
  ];
}

/**
 * Resolves a `-cpu` argument (MODEL[,features]) to a model. Errors are QEMU's messages. The
 * one optional feature is `vmx` (`+vmx`, `vmx=on`; `-vmx`, `vmx=off`); other flags are refused.
 */
export function findCpuModel(arg: string): { model: CpuModel } | { error: string } {
  const [name = '', ...features] = arg.split(',');
  if (name === 'host') return { error: "CPU model 'host' requires KVM or HVF" };
  let model = CPU_MODELS.find((m) => m.name === name) ?? ALIASES[name];
  if (!model) return { error: `unable to find CPU model '${name}'` };
  for (const f of features) {
    const on = f === '+vmx' || f === 'vmx=on' || f === 'vmx';
    const off = f === '-vmx' || f === 'vmx=off';
    if (!on && !off) return { error: `-cpu ${arg}: CPU feature flags other than vmx are not supported (the model fixes every feature)` };
    model = { ...model, vmx: on };
  }
  return { model };
}

/** The model a machine configuration names (default: the `pcvm` model); ConfigError if unknown. */
export function cpuModelOf(config: { cpuModel?: string }): CpuModel {
  if (config.cpuModel === undefined) return DEFAULT_CPU_MODEL;
  const found = findCpuModel(config.cpuModel);
  if ('error' in found) throw new ConfigError(found.error);
  return found.model;
}

/** Whether `model` implements Intel 64 (IA-32e mode). */
export function hasLongMode(model: CpuModel): boolean {
  return (model.extEdx & ExtEdx.LM) !== 0;
}

// =============================================================================================
// CPUID leaves
// =============================================================================================

function stringDword(s: string, offset: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= (offset + i < s.length ? s.charCodeAt(offset + i) : 0) << (8 * i);
  return v >>> 0;
}

/** Leaf 2: AL = 1 (one CPUID call), then one descriptor byte per cache (SDM Table 3-12). */
export function leaf2(model: CpuModel): [number, number, number, number] {
  const bytes = [0x01, ...model.caches.map((c) => c.descriptor)];
  while (bytes.length < 16) bytes.push(0);
  const reg = (i: number) => (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
  return [reg(0), reg(4), reg(8), reg(12)];
}

/** Leaf 4, subleaf `n`: deterministic cache parameters; a null type past the last cache. */
export function leaf4(model: CpuModel, n: number): [number, number, number, number] {
  const c = model.caches[n];
  if (!c) return [0, 0, 0, 0];
  // EAX: type, level, self-initializing (bit 8); one logical processor shares it, one core.
  const eax = c.type | (c.level << 5) | (1 << 8);
  const sets = (c.sizeKiB * 1024) / (c.ways * c.lineBytes);
  const ebx = (c.lineBytes - 1) | (0 << 12) | ((c.ways - 1) << 22);
  // EDX bit 1: the L2 is inclusive of the L1s.
  const edx = c.level > 1 ? 1 << 1 : 0;
  return [eax >>> 0, ebx >>> 0, sets - 1, edx];
}

/** Leaf 0x80000006:ECX: L2 line size, associativity (6 = 8-way) and size in KiB. */
export function leaf80000006(model: CpuModel): [number, number, number, number] {
  const l2 = model.caches.find((c) => c.level === 2);
  if (!l2) return [0, 0, 0, 0];
  const assoc = l2.ways === 8 ? 6 : l2.ways === 16 ? 8 : l2.ways === 4 ? 4 : l2.ways === 2 ? 2 : 1;
  return [0, 0, (l2.lineBytes | (assoc << 12) | (l2.sizeKiB << 16)) >>> 0, 0];
}

/** Leaves 0x80000002-4: the brand string, 16 bytes each, NUL-padded. */
export function brandLeaf(model: CpuModel, leaf: number): [number, number, number, number] {
  const off = (leaf - 0x80000002) * 16;
  return [stringDword(model.brand, off), stringDword(model.brand, off + 4), stringDword(model.brand, off + 8), stringDword(model.brand, off + 12)];
}

/** Leaf 0: the maximum basic leaf and "GenuineIntel" in EBX, EDX, ECX. */
export function vendorLeaf(maxBasic: number): [number, number, number, number] {
  return [maxBasic, stringDword(VENDOR, 0), stringDword(VENDOR, 8), stringDword(VENDOR, 4)];
}
