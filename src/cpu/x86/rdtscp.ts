/**
 * RDTSCP (0F 01 F9; SDM Vol. 2B): EDX:EAX = TSC, ECX = IA32_TSC_AUX[31:0], the upper halves of
 * RAX, RDX and RCX cleared. #UD on models without RDTSCP (CPUID.80000001H:EDX[27]), #GP(0) at
 * CPL > 0 with CR4.TSD set, as RDTSC. The TSC is read from the virtual clock, so the
 * "wait for earlier instructions" ordering holds trivially in an interpreter.
 */
import { Vec } from './exceptions.js';
import { Cr4, Reg } from './state.js';
import { hasRdtscp } from './msr-platform.js';
import { Sensitive, type X86Cpu } from './cpu.js';

export function rdtscp(cpu: X86Cpu): void {
  if (!hasRdtscp(cpu)) cpu.raise(Vec.UD);
  if ((cpu.s.cr4 & Cr4.TSD) && cpu.cpl !== 0) cpu.gp(0);
  if (cpu.intercept?.(cpu, Sensitive.Rdtscp, 0)) return;
  const t = cpu.tscNow();
  cpu.setReg32(Reg.EAX, t % 4294967296);
  cpu.setReg32(Reg.EDX, Math.floor(t / 4294967296));
  cpu.setReg32(Reg.ECX, cpu.s.platform.tscAux);
}
