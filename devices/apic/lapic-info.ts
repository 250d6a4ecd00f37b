/**
 * `info lapic` in QEMU's format (target/i386 x86_cpu_dump_local_apic_state): the LVT entries,
 * the timer, SVR, ICR, ESR, ISR/IRR, and the priorities.
 */
import type { LocalApicState } from './lapic.js';

const DELIVERY_MODE_NAMES = ['Fixed', '...', 'SMI', '...', 'NMI', 'INIT', '...', 'ExtINT'] as const;
const SHORTHAND_NAMES = ['no-shorthand', 'self', 'all-self', 'all'] as const;

/** Values computed from the state at the time of the dump. */
export interface LapicInfoExtras {
  currentCount: number;
  ppr: number;
  apr: number;
}

const hex = (v: number, width: number): string => (v >>> 0).toString(16).padStart(width, '0');
const pad = (text: string, width: number): string => text.padEnd(width, ' ');

function lvtLine(name: string, lvt: number, isTimer: boolean): string {
  const dm = (lvt >> 8) & 7;
  const timerMode = !isTimer ? '' : lvt & (1 << 17) ? 'periodic' : lvt & (1 << 18) ? 'tsc-deadline' : 'one-shot';
  let line =
    `${name}\t 0x${hex(lvt, 8)} ${lvt & (1 << 13) ? 'active-lo' : 'active-hi'} ${pad(lvt & (1 << 15) ? 'level' : 'edge', 5)} ` +
    `${pad(lvt & (1 << 16) ? 'masked' : '', 6)} ${pad(lvt & (1 << 12) ? 'pending' : '', 7)} ${pad(timerMode, 12)} ` +
    pad(DELIVERY_MODE_NAMES[dm]!, 6);
  if (dm !== 4) line += ` (vec ${lvt & 0xff})`;
  return line;
}

function bits(value: number, count: number): string {
  let out = '';
  for (let i = count - 1; i >= 0; i--) out += (value >> i) & 1 ? '1' : '0';
  return out;
}

function interruptLine(name: string, words: number[], tmr: number[]): string {
  let line = `${name}\t `;
  let empty = true;
  for (let v = 0; v < 256; v++) {
    if ((words[v >> 5]! >>> (v & 31)) & 1) {
      line += `${v}${(tmr[v >> 5]! >>> (v & 31)) & 1 ? '(level)' : ''} `;
      empty = false;
    }
  }
  return line + (empty ? '(none)' : '');
}

export function formatLapicInfo(s: LocalApicState, cpuIndex: number, x: LapicInfoExtras): string {
  const lines: string[] = [`dumping local APIC state for CPU ${String(cpuIndex).padEnd(2)}`, ''];
  lines.push(lvtLine('LVT0', s.lvt[3]!, false));
  lines.push(lvtLine('LVT1', s.lvt[4]!, false));
  lines.push(lvtLine('LVTPC', s.lvt[2]!, false));
  lines.push(lvtLine('LVTERR', s.lvt[5]!, false));
  lines.push(lvtLine('LVTTHMR', s.lvt[1]!, false));
  lines.push(lvtLine('LVTT', s.lvt[0]!, true));
  const dv = ((s.divideConfig & 8) >> 1) | (s.divideConfig & 3);
  lines.push(`Timer\t DCR=0x${s.divideConfig.toString(16)} (divide by ${dv === 7 ? 1 : 2 << dv}) initial_count = ${s.initialCount} current_count = ${x.currentCount}`);
  lines.push(`SPIV\t 0x${hex(s.svr, 8)} APIC ${s.svr & 0x100 ? 'enabled' : 'disabled'}, focus=${s.svr & 0x200 ? 'on' : 'off'}, spurious vec ${s.svr & 0xff}`);
  const icr = s.icrLow;
  const shorthand = (icr >> 18) & 3;
  const logical = (icr & (1 << 11)) !== 0;
  lines.push(`ICR\t 0x${hex(icr, 8)} ${logical ? 'logical' : 'physical'} ${icr & (1 << 15) ? 'level' : 'edge'} ${icr & (1 << 14) ? 'assert' : 'de-assert'} ${SHORTHAND_NAMES[shorthand]!}`);
  let icr2 = `ICR2\t 0x${hex(s.icrHigh, 8)}`;
  const dest = s.icrHigh >>> 24;
  if (shorthand === 0) {
    if (!logical) icr2 += ` cpu ${dest & 0xf} (APIC ID)`;
    else if (s.dfrModel === 0xf) icr2 += ` mask ${bits(dest, 8)} (APIC ID)`;
    else if (s.dfrModel === 0) icr2 += ` cluster ${dest >> 4} mask ${bits(dest & 0xf, 4)} (APIC ID)`;
  }
  lines.push(icr2);
  lines.push(`ESR\t 0x${hex(s.esr, 8)}`);
  lines.push(interruptLine('ISR', s.isr, s.tmr));
  lines.push(interruptLine('IRR', s.irr, s.tmr));
  lines.push('');
  let last = `APR 0x${hex(x.apr, 2)} TPR 0x${hex(s.tpr, 2)} DFR 0x${hex(s.dfrModel, 2)} LDR 0x${hex(s.ldr, 2)}`;
  if (s.dfrModel === 0) last += `(cluster ${s.ldr >> 4}: id ${s.ldr & 0xf})`;
  lines.push(`${last} PPR 0x${hex(x.ppr, 2)}`);
  return lines.join('\n');
}
