/**
 * Architectural state of one x86 CPU, kept in typed arrays so that save/restore and a future
 * JIT can reach it cheaply (DESIGN.md: "CPU registers live in typed arrays").
 *
 * Layout:
 *  - gpr[0..15]    low 32 bits of RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15
 *  - gprHi[0..15]  high 32 bits (long mode; zero outside it)
 *  - segment caches, indexed by SegReg: selector, base, limit (byte granular, expanded),
 *    and access rights in the VMX "access rights" layout (type 0-3, S 4, DPL 5-6, P 7,
 *    AVL 12, L 13, D/B 14, G 15, unusable 16).
 *
 * Sixty-four-bit bases are kept as doubles (exact up to 2^53, which covers every canonical
 * address a 48-bit implementation produces).
 */
import type { SseStateData } from './sse/sse-state.js';

import type { FpuStateData } from './fpu/fpu-snapshot.js';
import { PlatformMsrs, type PlatformMsrsData } from './platform-msrs.js';
import { MachineCheckState, type MachineCheckData } from './machine-check.js';
import type { VmxStateData } from './vmx/vmx-snapshot.js';

export const enum Reg {
  EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7,
  R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15,
}

export const enum SegReg {
  ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7,
}

export const SEG_NAMES = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS', 'LDT', 'TR'] as const;

/** Access-rights bits (VMX layout). */
export const enum Ar {
  TYPE_MASK = 0xf,
  /** Code/data (1) vs system (0) descriptor. */
  S = 1 << 4,
  DPL_SHIFT = 5,
  P = 1 << 7,
  AVL = 1 << 12,
  L = 1 << 13,
  DB = 1 << 14,
  G = 1 << 15,
  UNUSABLE = 1 << 16,
}

/** EFLAGS bits. */
export const enum Fl {
  CF = 1 << 0,
  FIXED1 = 1 << 1,
  PF = 1 << 2,
  AF = 1 << 4,
  ZF = 1 << 6,
  SF = 1 << 7,
  TF = 1 << 8,
  IF = 1 << 9,
  DF = 1 << 10,
  OF = 1 << 11,
  IOPL = 3 << 12,
  NT = 1 << 14,
  RF = 1 << 16,
  VM = 1 << 17,
  AC = 1 << 18,
  VIF = 1 << 19,
  VIP = 1 << 20,
  ID = 1 << 21,
  /** The six arithmetic flags, which may be computed lazily. */
  ARITH = CF | PF | AF | ZF | SF | OF,
}

export const enum Cr0 {
  PE = 1 << 0, MP = 1 << 1, EM = 1 << 2, TS = 1 << 3, ET = 1 << 4, NE = 1 << 5,
  WP = 1 << 16, AM = 1 << 18, NW = 1 << 29, CD = 1 << 30, PG = 1 << 31,
}

export const enum Cr4 {
  VME = 1 << 0, PVI = 1 << 1, TSD = 1 << 2, DE = 1 << 3, PSE = 1 << 4, PAE = 1 << 5,
  MCE = 1 << 6, PGE = 1 << 7, PCE = 1 << 8, OSFXSR = 1 << 9, OSXMMEXCPT = 1 << 10,
  UMIP = 1 << 11, VMXE = 1 << 13, SMXE = 1 << 14, FSGSBASE = 1 << 16, PCIDE = 1 << 17,
  OSXSAVE = 1 << 18, SMEP = 1 << 20, SMAP = 1 << 21,
}

export const enum Efer {
  SCE = 1 << 0, LME = 1 << 8, LMA = 1 << 10, NXE = 1 << 11,
}

/** Plain-data copy of CpuState for snapshots and `info registers`. */
export interface CpuStateData {
  /** The x87 registers (fpu/fpu-snapshot.ts). */
  fpu: FpuStateData;
  gpr: number[];
  gprHi: number[];
  eip: number;
  eflags: number;
  segSel: number[];
  segBase: number[];
  segLimit: number[];
  segAr: number[];
  gdtBase: number;
  gdtLimit: number;
  idtBase: number;
  idtLimit: number;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  efer: number;
  /** PAE PDPTE registers as (low, high) dword pairs (paging.ts). */
  pdpte: number[];
  dr: number[];
  halted: boolean;
  a20: boolean;
  tscOffset: number;
  /** IA32_TSC_ADJUST: the sum of what writes to the TSC and to this MSR added (SDM 17.17.3). */
  tscAdjust: number;
  sysenterCs: number;
  sysenterEsp: number;
  sysenterEip: number;
  /** Interrupt shadow: 1 after STI, 2 after MOV SS / POP SS (debug-exceptions.ts Shadow). */
  interruptShadow: number;
  /** #DB trap conditions waiting for the next instruction boundary, in DR6's layout (debug-exceptions.ts). */
  pendingDebug: number;
  nmiPending: boolean;
  nmiBlocked: boolean;
  /** XMM registers and MXCSR. */
  sse: SseStateData;
  /** High half of RIP (64-bit mode). */
  ripHi: number;
  long: LongModeRegsData;
  /** MTRRs, PAT, MISC_ENABLE, BIOS_SIGN_ID, TSC_AUX (platform-msrs.ts). */
  platform: PlatformMsrsData;
  /** MCG_STATUS, MCG_CTL and the MCi_CTL enables (machine-check.ts). */
  mca: MachineCheckData;
  /** VMX operation (vmx/vmx-snapshot.ts), on models with VMX. */
  vmx?: VmxStateData;
}

/** Plain-data copy of LongModeRegs. */
export interface LongModeRegsData {
  cr8: number;
  starLo: number;
  starHi: number;
  lstar: number;
  cstar: number;
  sfmask: number;
  kernelGsBase: number;
}

export class CpuState {
  readonly gpr = new Int32Array(16);
  readonly gprHi = new Int32Array(16);
  eip = 0;
  /**
   * EFLAGS without the arithmetic flags while they are lazy (see flags.ts). Always read the
   * whole register through X86Cpu.getEflags().
   */
  eflags = Fl.FIXED1;
  readonly segSel = new Uint16Array(8);
  readonly segBase = new Float64Array(8);
  readonly segLimit = new Float64Array(8);
  readonly segAr = new Int32Array(8);
  gdtBase = 0;
  gdtLimit = 0xffff;
  idtBase = 0;
  idtLimit = 0xffff;
  cr0 = Cr0.ET | Cr0.CD | Cr0.NW;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  /**
   * The four PAE PDPTE registers (SDM Vol. 3A 4.4.1), loaded from CR3 by MOV to CR0/CR3/CR4:
   * pdpte[2i] low dword, pdpte[2i + 1] high dword of PDPTEi.
   */
  readonly pdpte = new Uint32Array(8);
  readonly dr = new Float64Array(8);
  halted = false;
  a20 = true;
  tscOffset = 0;
  tscAdjust = 0;
  /** IA32_SYSENTER_CS (selector bits 15:0) and _ESP/_EIP (signed canonical addresses). */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  /** 0, or 1 (STI) / 2 (MOV SS, POP SS): the next instruction runs uninterrupted (Shadow). */
  interruptShadow = 0;
  /**
   * #DB trap conditions (DR6 layout: B0-B3, BS, BT) waiting for the next instruction
   * boundary: single step, data and I/O breakpoints, the TSS T bit (debug-exceptions.ts).
   */
  pendingDebug = 0;
  nmiPending = false;
  nmiBlocked = false;
  /**
   * High 32 bits of RIP (signed, so canonical addresses stay small numbers). Only 64-bit
   * mode uses it; `eip` keeps the low half so that every 32-bit path is unchanged.
   */
  ripHi = 0;
  /** Long-mode registers outside the 32-bit architecture (long-mode-state.ts). */
  readonly long = new LongModeRegs();
  /** The platform MSRs (msr-platform.ts). */
  readonly platform = new PlatformMsrs();
  /** The machine-check MSRs software can write (machine-check.ts). */
  readonly mca = new MachineCheckState();
}

/**
 * Registers that exist for IA-32e mode (SDM Vol. 3A 2.2.1, 5.8.8; Vol. 4 Table 2-2). 64-bit
 * addresses are kept as signed doubles (canonical values are exact), STAR as its two halves.
 */
export class LongModeRegs {
  /** CR8: the task-priority register (bits 3:0). */
  cr8 = 0;
  /** IA32_STAR bits 31:0 (legacy SYSCALL EIP) and 63:32 (SYSCALL CS, SYSRET CS selectors). */
  starLo = 0;
  starHi = 0;
  /** IA32_LSTAR / IA32_CSTAR: SYSCALL targets from 64-bit and compatibility mode. */
  lstar = 0;
  cstar = 0;
  /** IA32_FMASK: RFLAGS bits cleared by SYSCALL (bits 31:0; the upper half is reserved). */
  sfmask = 0;
  /** IA32_KERNEL_GS_BASE: swapped with GS.base by SWAPGS. */
  kernelGsBase = 0;

  reset(): void {
    this.cr8 = 0;
    this.starLo = this.starHi = 0;
    this.lstar = this.cstar = 0;
    this.sfmask = 0;
    this.kernelGsBase = 0;
  }
}
