/**
 * FpuState as plain data for snapshots (part of the CPU's state, state-io.ts). Every field is
 * range-checked before anything changes; the registers are kept bit for bit (raw 80-bit
 * values by physical number, TOP and the full tag word apart, as in FpuState).
 */
import { SnapshotError } from '../../../errors.js';
import { expectInt, expectIntArray, expectRecord } from '../../../snapshot/validate.js';
import type { FpuState } from './fpu-state.js';

export interface FpuStateData {
  /** Significand halves of R0..R7: low, high, low, high… */
  mant: number[];
  /** Sign and exponent of R0..R7. */
  exp: number[];
  fcw: number;
  /** Status word without TOP. */
  fsw: number;
  top: number;
  ftw: number;
  fop: number;
  fip: number;
  fcs: number;
  fdp: number;
  fds: number;
}

export function saveFpuState(f: FpuState): FpuStateData {
  return {
    mant: Array.from(f.mant),
    exp: Array.from(f.exp),
    fcw: f.fcw,
    fsw: f.fsw,
    top: f.top,
    ftw: f.ftw,
    fop: f.fop,
    fip: f.fip >>> 0,
    fcs: f.fcs,
    fdp: f.fdp >>> 0,
    fds: f.fds,
  };
}

/** Validates untrusted data completely; returns it typed, without touching any state. */
export function parseFpuState(data: unknown): FpuStateData {
  const w = 'cpu.fpu';
  const r = expectRecord(data, w);
  const v: FpuStateData = {
    mant: expectIntArray(r, 'mant', 0, 0xffffffff, 16, w),
    exp: expectIntArray(r, 'exp', 0, 0xffff, 8, w),
    fcw: expectInt(r, 'fcw', 0, 0xffff, w),
    fsw: expectInt(r, 'fsw', 0, 0xffff, w),
    top: expectInt(r, 'top', 0, 7, w),
    ftw: expectInt(r, 'ftw', 0, 0xffff, w),
    fop: expectInt(r, 'fop', 0, 0x7ff, w),
    fip: expectInt(r, 'fip', 0, 0xffffffff, w),
    fcs: expectInt(r, 'fcs', 0, 0xffff, w),
    fdp: expectInt(r, 'fdp', 0, 0xffffffff, w),
    fds: expectInt(r, 'fds', 0, 0xffff, w),
  };
  if (v.fsw & 0x3800) throw new SnapshotError(`${w}.fsw: TOP (bits 11-13) is kept in 'top', got ${v.fsw}`);
  return v;
}

export function applyFpuState(f: FpuState, v: FpuStateData): void {
  f.mant.set(v.mant);
  f.exp.set(v.exp);
  f.fcw = v.fcw;
  f.fsw = v.fsw;
  f.top = v.top;
  f.ftw = v.ftw;
  f.fop = v.fop;
  f.fip = v.fip;
  f.fcs = v.fcs;
  f.fdp = v.fdp;
  f.fds = v.fds;
}
