/**
 * SSE register state (SDM Vol. 1 10.2): XMM0-XMM15 and MXCSR.
 *
 * The sixteen 128-bit registers live in one 256-byte buffer with typed views of every element
 * width, so that packed operations index lanes directly: XMMi occupies bytes 16i..16i+15, i.e.
 * u32[4i..4i+3], f64[2i..2i+1] and so on (little-endian, like the hardware). XMM8-15 become
 * reachable with REX prefixes in 64-bit mode.
 *
 * `Vec128` is the same layout for one register: scratch operands that the instruction
 * handlers fill from a register or memory, compute on, and copy back (never saved).
 */
import { SnapshotError } from '../../../errors.js';
import { expectInt, expectIntArray, expectRecord } from '../../../snapshot/validate.js';

/** MXCSR bits (SDM Vol. 1 10.2.3, Figure 10-3). */
export const enum Mxcsr {
  IE = 1 << 0, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5,
  /** All six exception flags. */
  FLAGS = 0x3f,
  DAZ = 1 << 6,
  /** Exception masks IM..PM are the flags shifted left by this. */
  MASK_SHIFT = 7,
  MASKS = 0x3f << 7,
  RC_SHIFT = 13,
  RC = 3 << 13,
  FTZ = 1 << 15,
}

/** Rounding control values (MXCSR.RC, x87 FCW.RC). */
export const enum Rc {
  Nearest = 0, Down = 1, Up = 2, Zero = 3,
}

/** Power-on/RESET value: all exceptions masked, round to nearest (SDM Vol. 3A Table 9-1). */
export const MXCSR_DEFAULT = 0x1f80;
/**
 * Bits of MXCSR that may be set (FXSAVE's MXCSR_MASK, SDM Vol. 1 11.6.6): 0xFFFF, since DAZ
 * is supported. Setting any other bit with LDMXCSR or FXRSTOR is #GP(0).
 */
export const MXCSR_MASK = 0x0000ffff;

export class Vec128 {
  readonly buf = new ArrayBuffer(16);
  readonly u8 = new Uint8Array(this.buf);
  readonly i8 = new Int8Array(this.buf);
  readonly u16 = new Uint16Array(this.buf);
  readonly i16 = new Int16Array(this.buf);
  readonly u32 = new Uint32Array(this.buf);
  readonly i32 = new Int32Array(this.buf);
  readonly f32 = new Float32Array(this.buf);
  readonly f64 = new Float64Array(this.buf);
}

export interface SseStateData {
  /** XMM0-15 as 64 dwords, XMMi = dwords 4i..4i+3 (low first). */
  xmm: number[];
  mxcsr: number;
}

export class SseState {
  readonly buf = new ArrayBuffer(256);
  readonly u8 = new Uint8Array(this.buf);
  readonly u16 = new Uint16Array(this.buf);
  readonly u32 = new Uint32Array(this.buf);
  readonly i32 = new Int32Array(this.buf);
  readonly f32 = new Float32Array(this.buf);
  readonly f64 = new Float64Array(this.buf);
  mxcsr = MXCSR_DEFAULT;

  // Scratch operands of the instruction being executed (not architectural, not saved).
  /** Destination / first source. */
  readonly a = new Vec128();
  /** Second source. */
  readonly b = new Vec128();
  /** Result being built where it must not overwrite a source lane early. */
  readonly r = new Vec128();
  /**
   * Exception flags raised so far by the instruction being executed (sse-fp.ts), split as
   * the SDM's pre-computation (IE, DE, ZE) and post-computation (OE, UE, PE) conditions.
   */
  pre = 0;
  post = 0;

  reset(): void {
    this.u8.fill(0);
    this.mxcsr = MXCSR_DEFAULT;
  }

  save(): SseStateData {
    return { xmm: Array.from(this.u32), mxcsr: this.mxcsr >>> 0 };
  }

  /** Loads state that `validateSseState` accepted. */
  load(v: SseStateData): void {
    this.u32.set(v.xmm);
    this.mxcsr = v.mxcsr;
  }
}

/** Checks untrusted saved SSE state completely (the CPU loads nothing until all of it passed). */
export function validateSseState(data: unknown): SseStateData {
  const r = expectRecord(data, 'cpu.sse');
  const xmm = expectIntArray(r, 'xmm', 0, 0xffffffff, 64, 'cpu.sse');
  const mxcsr = expectInt(r, 'mxcsr', 0, 0xffffffff, 'cpu.sse');
  if (mxcsr & ~MXCSR_MASK) throw new SnapshotError(`cpu.sse.mxcsr: reserved bits set in ${mxcsr.toString(16)}`);
  return { xmm, mxcsr };
}
