/**
 * The local APIC's register layout (SDM Vol. 3A Table 10-1, Figures 10-5 to 10-23), its
 * guest-visible state as plain data, the power-on and reset values (10.4.7.1), and the
 * validation of saved state. The behaviour is in lapic.ts.
 */
import { SnapshotError } from '../../src/errors.js';
import { expectBool, expectInt, expectIntArray, expectNumber, expectRecord } from '../../src/snapshot/validate.js';
import { DeliveryMode } from './apic-bus.js';

// IA32_APIC_BASE (SDM Figure 10-5).
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_ENABLE = 1 << 11;
export const APIC_BASE_ADDRESS = 0xfffff000;
/** Power-on value of the BSP: 0xFEE00000, BSP, enabled. */
export const APIC_DEFAULT_BASE = 0xfee00000;

/** Version register: version 0x14 (xAPIC), max LVT entry 5 (SDM Figure 10-7). */
export const APIC_VERSION = 0x00050014;

/** LVT entries, in register order (0x320…0x370). */
export const enum Lvt {
  Timer = 0,
  Thermal = 1,
  Perfmon = 2,
  Lint0 = 3,
  Lint1 = 4,
  Error = 5,
}
export const LVT_COUNT = 6;

// LVT bits (SDM Figure 10-8).
export const LVT_VECTOR = 0xff;
export const LVT_DELIVERY_SHIFT = 8;
export const LVT_DELIVERY_MODE = 0x700;
export const LVT_POLARITY = 1 << 13;
export const LVT_REMOTE_IRR = 1 << 14;
export const LVT_LEVEL = 1 << 15;
export const LVT_MASKED = 1 << 16;
export const LVT_TIMER_MODE_SHIFT = 17;
/** Writable bits per LVT entry; delivery status (bit 12) and remote IRR are read-only. */
export const LVT_WRITABLE = [
  LVT_VECTOR | LVT_MASKED | (3 << LVT_TIMER_MODE_SHIFT), // timer: vector, mask, mode
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED, // thermal
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_MASKED, // performance counters
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY | LVT_LEVEL | LVT_MASKED, // LINT0
  LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY | LVT_LEVEL | LVT_MASKED, // LINT1
  LVT_VECTOR | LVT_MASKED, // error
] as const;

/** Timer modes (LVT timer bits 18:17). 3 is reserved and behaves as one-shot here. */
export const enum TimerMode {
  OneShot = 0,
  Periodic = 1,
  TscDeadline = 2,
}

// Spurious-interrupt vector register: vector and APIC software enable (SDM Figure 10-23).
export const SVR_ENABLE = 1 << 8;
export const SVR_WRITABLE = 0x1ff;

// Error status register bits (SDM Figure 10-9).
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

// Interrupt command register (SDM Figure 10-12).
export const ICR_LOW_WRITABLE = 0x000ccfff; // vector, mode, dest mode, level, trigger, shorthand
export const ICR_DEST_LOGICAL = 1 << 11;
export const ICR_LEVEL_ASSERT = 1 << 14;
export const ICR_TRIGGER_LEVEL = 1 << 15;
export const ICR_SHORTHAND_SHIFT = 18;
export const ICR_HIGH_WRITABLE = 0xff000000;

export const DCR_WRITABLE = 0b1011;

/** Bus clocks per virtual ns: a 1 GHz APIC bus, as QEMU's. */
export const APIC_BUS_NS_PER_TICK = 1;
/** Closest spacing of periodic timer expiries (KVM's min_timer_period_us). */
export const MIN_PERIODIC_NS = 200_000;

/** Guest-visible state as saved. Times are relative to the moment of saving. */
export interface LocalApicState {
  /** IA32_APIC_BASE, low 32 bits. */
  apicBase: number;
  /** APIC ID (ID register bits 31:24). */
  id: number;
  tpr: number;
  /** Logical APIC ID (LDR bits 31:24). */
  ldr: number;
  /** DFR model (bits 31:28): 0xF flat, 0x0 cluster. */
  dfrModel: number;
  svr: number;
  /** 256-bit registers as eight 32-bit words, vector 0 in bit 0 of word 0. */
  isr: number[];
  tmr: number[];
  irr: number[];
  /** ESR as software reads it (updated by a write to the ESR). */
  esr: number;
  /** Errors detected since the last write to the ESR. */
  esrPending: number;
  icrLow: number;
  icrHigh: number;
  /** The six LVT entries in register order (Lvt). */
  lvt: number[];
  divideConfig: number;
  initialCount: number;
  /** Virtual ns since the initial count was loaded (the current count follows from it). */
  countElapsedNs: number;
  /** Virtual ns until the timer's next expiry, or -1 when it is not armed. */
  timerDueInNs: number;
  /** IA32_TSC_DEADLINE as written, in 32-bit halves. */
  tscDeadlineLo: number;
  tscDeadlineHi: number;
  /** Levels of the LINT0 (8259 INTR) and LINT1 inputs, for edge detection. */
  lint0Level: boolean;
  lint1Level: boolean;
  /** An ExtINT message arrived and the CPU has not yet run the INTA cycle to the 8259. */
  extIntPending: boolean;
}

export const LAPIC_STATE_VERSION = 1;

/**
 * Register state after RESET or a global disable (SDM 10.4.7.1): everything zero, the LVT
 * entries masked, SVR 0xFF (software-disabled), DFR flat.
 */
export function resetRegisters(apicBase: number, id: number): LocalApicState {
  return {
    apicBase,
    id,
    tpr: 0,
    ldr: 0,
    dfrModel: 0xf,
    svr: 0xff,
    isr: new Array<number>(8).fill(0),
    tmr: new Array<number>(8).fill(0),
    irr: new Array<number>(8).fill(0),
    esr: 0,
    esrPending: 0,
    icrLow: 0,
    icrHigh: 0,
    lvt: new Array<number>(LVT_COUNT).fill(LVT_MASKED),
    divideConfig: 0,
    initialCount: 0,
    countElapsedNs: 0,
    timerDueInNs: -1,
    tscDeadlineLo: 0,
    tscDeadlineHi: 0,
    lint0Level: false,
    lint1Level: false,
    extIntPending: false,
  };
}

/**
 * Power-on state of the BSP's APIC. LINT0 is ExtINT and unmasked, as QEMU and KVM set it
 * ("LINT0 delivery mode on CPU #0 is set to ExtInt at initialization time typically by
 * BIOS"): the 8259 reaches the CPU until the OS reprograms LINT0, with no firmware step.
 */
export function defaultLocalApicState(apicId = 0): LocalApicState {
  const s = resetRegisters((APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_ENABLE) >>> 0, apicId);
  s.lvt[Lvt.Lint0] = DeliveryMode.ExtInt << LVT_DELIVERY_SHIFT;
  return s;
}

/** Validates untrusted saved state; throws SnapshotError naming the bad field. */
export function validateLapicState(value: unknown, what: string): LocalApicState {
  const r = expectRecord(value, what);
  const U32 = 0xffffffff;
  const lvt = expectIntArray(r, 'lvt', 0, U32, LVT_COUNT, what);
  lvt.forEach((e, i) => {
    const allowed = LVT_WRITABLE[i]! | (i === Lvt.Lint0 || i === Lvt.Lint1 ? LVT_REMOTE_IRR : 0);
    if ((e & ~allowed) !== 0) throw new SnapshotError(`${what}.lvt[${i}]: 0x${e.toString(16)} sets bits outside 0x${allowed.toString(16)}`);
  });
  const s: LocalApicState = {
    apicBase: expectInt(r, 'apicBase', 0, U32, what),
    id: expectInt(r, 'id', 0, 0xff, what),
    tpr: expectInt(r, 'tpr', 0, 0xff, what),
    ldr: expectInt(r, 'ldr', 0, 0xff, what),
    dfrModel: expectInt(r, 'dfrModel', 0, 0xf, what),
    svr: expectInt(r, 'svr', 0, SVR_WRITABLE, what),
    isr: [...expectIntArray(r, 'isr', 0, U32, 8, what)],
    tmr: [...expectIntArray(r, 'tmr', 0, U32, 8, what)],
    irr: [...expectIntArray(r, 'irr', 0, U32, 8, what)],
    esr: expectInt(r, 'esr', 0, 0xff, what),
    esrPending: expectInt(r, 'esrPending', 0, 0xff, what),
    icrLow: expectInt(r, 'icrLow', 0, ICR_LOW_WRITABLE, what),
    icrHigh: expectInt(r, 'icrHigh', 0, U32, what),
    lvt: [...lvt],
    divideConfig: expectInt(r, 'divideConfig', 0, DCR_WRITABLE, what),
    initialCount: expectInt(r, 'initialCount', 0, U32, what),
    countElapsedNs: expectNumber(r, 'countElapsedNs', 0, Number.MAX_SAFE_INTEGER, what),
    timerDueInNs: expectNumber(r, 'timerDueInNs', -1, Number.MAX_SAFE_INTEGER, what),
    tscDeadlineLo: expectInt(r, 'tscDeadlineLo', 0, U32, what),
    tscDeadlineHi: expectInt(r, 'tscDeadlineHi', 0, U32, what),
    lint0Level: expectBool(r, 'lint0Level', what),
    lint1Level: expectBool(r, 'lint1Level', what),
    extIntPending: expectBool(r, 'extIntPending', what),
  };
  const check = (field: string, ok: boolean) => {
    if (!ok) throw new SnapshotError(`${what}.${field}: value has reserved bits set`);
  };
  check('apicBase', (s.apicBase & ~(APIC_BASE_ADDRESS | APIC_BASE_BSP | APIC_BASE_ENABLE)) === 0);
  check('icrLow', (s.icrLow & ~ICR_LOW_WRITABLE) === 0);
  check('icrHigh', (s.icrHigh & ~ICR_HIGH_WRITABLE) === 0);
  check('divideConfig', (s.divideConfig & ~DCR_WRITABLE) === 0);
  check('irr', (s.irr[0]! & 0xffff) === 0); // vectors 0-15 can never be requested
  check('timerDueInNs', s.timerDueInNs === -1 || s.timerDueInNs >= 0);
  return s;
}

/** Timer divisor from the divide configuration register (SDM Figure 10-10). */
export function timerDivisor(dcr: number): number {
  const v = (dcr & 3) | ((dcr >> 1) & 4);
  return v === 7 ? 1 : 2 << v;
}
