/**
 * The terminal UI's status line: run state, accelerator, instructions per second and the
 * guest's virtual time, then the key bindings. Formatting only; the UI samples the machine.
 */
import type { RunState } from '../../machine/control.js';

export interface StatusSample {
  state: RunState;
  accel: string;
  /** Instructions retired since power-on. */
  instructions: number;
  /** Virtual time, ns since power-on. */
  virtualNs: number;
  /** Host time of the sample, ms (any monotonic origin). */
  hostMs: number;
}

/** Instructions per second between two samples (0 when no host time passed or the count went back). */
export function instructionsPerSecond(prev: StatusSample | undefined, cur: StatusSample): number {
  if (!prev) return 0;
  const dtMs = cur.hostMs - prev.hostMs;
  const n = cur.instructions - prev.instructions;
  if (dtMs <= 0 || n < 0) return 0;
  return (n * 1000) / dtMs;
}

/** 12.3 M, 456.7 k, 89 — three significant figures are plenty for a status line. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return `${Math.round(perSecond)}`;
}

/** Virtual time as h:mm:ss.mmm. */
export function formatVirtualTime(ns: number): string {
  const totalMs = Math.floor(ns / 1e6);
  const ms = totalMs % 1000;
  const s = Math.floor(totalMs / 1000) % 60;
  const m = Math.floor(totalMs / 60000) % 60;
  const h = Math.floor(totalMs / 3600000);
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms).padStart(3, '0')}`;
}

/**
 * The status line's text (plain, no markup), at most `width` columns: the longest of a few
 * forms that fits, so the key bindings stay visible on a narrow terminal.
 */
export function formatStatusLine(cur: StatusSample, ips: number, keys: string, width: number): string {
  const rate = `${formatRate(ips)} instr/s`;
  const time = formatVirtualTime(cur.virtualNs);
  const forms = [
    ` ${cur.state} | accel ${cur.accel} | ${rate} | vtime ${time} | ${keys}`,
    ` ${cur.state} | ${cur.accel} | ${rate} | ${time} | ${keys}`,
    ` ${cur.state} | ${rate} | ${time} | ${keys}`,
    ` ${cur.state} | ${keys}`,
  ];
  const fit = forms.find((f) => f.length <= width) ?? forms[forms.length - 1]!;
  return fit.slice(0, Math.max(0, width));
}
