import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { Cr0, Cr4 } from '../../src/cpu/x86/state.js';

/** What an OS does before using SSE (SDM Vol. 3A 13.1.3): CR4.OSFXSR and OSXMMEXCPT, CR0.MP=1, EM=0. */
export function enableSse(cpu: X86Cpu): void {
  cpu.s.cr4 |= Cr4.OSFXSR | Cr4.OSXMMEXCPT;
  cpu.s.cr0 = (cpu.s.cr0 | Cr0.MP) & ~(Cr0.EM | Cr0.TS);
}
