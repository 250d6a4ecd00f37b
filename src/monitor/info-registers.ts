/**
 * `info registers` in QEMU's x86 layout (EFL flags in QEMU's order: D O S Z A P C) (target/i386/cpu-dump.c:
 * the 32-bit form, or the 64-bit form while EFER.LMA is set), so that scripts that parse QEMU's
 * output parse ours. As qemu-system-x86_64 (whose target_ulong is 64 bits), the debug registers
 * have 16 digits in both forms, and HMP dumps with CPU_DUMP_FPU: the x87 and SSE registers follow.
 */
import type { X86Cpu } from '../cpu/x86/cpu.js';
import { Ar, Fl, SEG_NAMES } from '../cpu/x86/state.js';

const hex = (v: number, w: number) => (v >>> 0).toString(16).padStart(w, '0');

export function formatRegisters(cpu: X86Cpu): string {
  if (cpu.lma) return formatRegisters64(cpu);
  const s = cpu.s;
  const g = s.gpr;
  const f = cpu.getEflags();
  const flag = (bit: number, ch: string) => (f & bit ? ch : '-');
  const lines = [
    `EAX=${hex(g[0]!, 8)} EBX=${hex(g[3]!, 8)} ECX=${hex(g[1]!, 8)} EDX=${hex(g[2]!, 8)}`,
    `ESI=${hex(g[6]!, 8)} EDI=${hex(g[7]!, 8)} EBP=${hex(g[5]!, 8)} ESP=${hex(g[4]!, 8)}`,
    `EIP=${hex(s.eip, 8)} EFL=${hex(f, 8)} [${flag(Fl.DF, 'D')}${flag(Fl.OF, 'O')}${flag(Fl.SF, 'S')}${flag(Fl.ZF, 'Z')}${flag(Fl.AF, 'A')}${flag(Fl.PF, 'P')}${flag(Fl.CF, 'C')}] CPL=${cpu.cpl} II=${s.interruptShadow ? 1 : 0} A20=${s.a20 ? 1 : 0} SMM=0 HLT=${s.halted ? 1 : 0}`,
  ];
  for (let i = 0; i < 8; i++) {
    const name = SEG_NAMES[i]!;
    const ar = s.segAr[i]!;
    const flags = descriptorFlags(ar, s.segLimit[i]!);
    let line = `${name.padEnd(3)}=${hex(s.segSel[i]!, 4)} ${hex(s.segBase[i]!, 8)} ${hex(s.segLimit[i]!, 8)} ${hex(flags, 8)}`;
    if (cpu.protectedMode && !(ar & Ar.UNUSABLE)) line += segmentAttributes(ar);
    lines.push(line);
  }
  lines.push(`GDT=     ${hex(s.gdtBase, 8)} ${hex(s.gdtLimit, 8)}`);
  lines.push(`IDT=     ${hex(s.idtBase, 8)} ${hex(s.idtLimit, 8)}`);
  lines.push(`CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2, 8)} CR3=${hex(s.cr3, 8)} CR4=${hex(s.cr4, 8)}`);
  const dr = (i: number) => hexHalves(s.dr[i]!, 0);
  lines.push(`DR0=${dr(0)} DR1=${dr(1)} DR2=${dr(2)} DR3=${dr(3)} `);
  lines.push(`DR6=${dr(6)} DR7=${dr(7)}`);
  lines.push(`EFER=${hex(0, 8)}${hex(s.efer, 8)}`);
  lines.push(...formatFpuRegisters(cpu));
  return lines.join('\n');
}

/**
 * QEMU's CPU_DUMP_FPU part: FCW, FSW (with TOP), the abridged tag byte (bit i set when the
 * PHYSICAL register Ri is not empty, as FXSAVE stores it), MXCSR; R0-R7 as significand and
 * sign+exponent; XMM0-7, or XMM0-15 in 64-bit mode (high quadword first).
 */
function formatFpuRegisters(cpu: X86Cpu): string[] {
  const fpu = cpu.fpu;
  let ftw = 0;
  for (let i = 0; i < 8; i++) if (((fpu.ftw >> (2 * i)) & 3) !== 3) ftw |= 1 << i;
  const lines = [`FCW=${hex(fpu.fcw, 4)} FSW=${hex(fpu.statusWord(), 4)} [ST=${fpu.top & 7}] FTW=${hex(ftw, 2)} MXCSR=${hex(cpu.sse.mxcsr, 8)}`];
  const fpr = (i: number) => `FPR${i}=${hexHalves(fpu.mant[2 * i]!, fpu.mant[2 * i + 1]!)} ${hex(fpu.exp[i]!, 4)}`;
  for (let i = 0; i < 8; i += 2) lines.push(`${fpr(i)} ${fpr(i + 1)}`);
  const x = cpu.sse.u32;
  const xmm = (i: number) => `XMM${String(i).padStart(2, '0')}=${hexHalves(x[4 * i + 2]!, x[4 * i + 3]!)} ${hexHalves(x[4 * i]!, x[4 * i + 1]!)}`;
  const count = cpu.mode64 ? 16 : 8;
  for (let i = 0; i < count; i += 2) lines.push(`${xmm(i)} ${xmm(i + 1)}`);
  return lines;
}

/** A 64-bit value given as a signed number (addresses, bases) or as halves. */
const hex64 = (v: number) => hex(Math.floor(v / 4294967296), 8) + hex(v, 8);
const hexHalves = (lo: number, hi: number) => hex(hi, 8) + hex(lo, 8);
/** CR2 and DR0-3 hold 48-bit linear addresses; software (and QEMU) sees them sign-extended. */
const hexLinear = (v: number) => hex64(v >= 0x800000000000 && v < 0x1000000000000 ? v - 0x1000000000000 : v);

/** The IA-32e form: 64-bit GPRs with R8-R15, RIP, 16-digit bases and control registers. */
function formatRegisters64(cpu: X86Cpu): string {
  const s = cpu.s;
  const r = (i: number) => hexHalves(s.gpr[i]!, s.gprHi[i]!);
  const f = cpu.getEflags();
  const flag = (bit: number, ch: string) => (f & bit ? ch : '-');
  const lines = [
    `RAX=${r(0)} RBX=${r(3)} RCX=${r(1)} RDX=${r(2)}`,
    `RSI=${r(6)} RDI=${r(7)} RBP=${r(5)} RSP=${r(4)}`,
    `R8 =${r(8)} R9 =${r(9)} R10=${r(10)} R11=${r(11)}`,
    `R12=${r(12)} R13=${r(13)} R14=${r(14)} R15=${r(15)}`,
    `RIP=${hexHalves(s.eip, s.ripHi)} RFL=${hex(f, 8)} [${flag(Fl.DF, 'D')}${flag(Fl.OF, 'O')}${flag(Fl.SF, 'S')}${flag(Fl.ZF, 'Z')}${flag(Fl.AF, 'A')}${flag(Fl.PF, 'P')}${flag(Fl.CF, 'C')}] CPL=${cpu.cpl} II=${s.interruptShadow ? 1 : 0} A20=${s.a20 ? 1 : 0} SMM=0 HLT=${s.halted ? 1 : 0}`,
  ];
  for (let i = 0; i < 8; i++) {
    const ar = s.segAr[i]!;
    const flags = descriptorFlags(ar, s.segLimit[i]!);
    let line = `${SEG_NAMES[i]!.padEnd(3)}=${hex(s.segSel[i]!, 4)} ${hex64(s.segBase[i]!)} ${hex(s.segLimit[i]!, 8)} ${hex(flags, 8)}`;
    if (!(ar & Ar.UNUSABLE)) line += segmentAttributes(ar);
    lines.push(line);
  }
  lines.push(`GDT=     ${hex64(s.gdtBase)} ${hex(s.gdtLimit, 8)}`);
  lines.push(`IDT=     ${hex64(s.idtBase)} ${hex(s.idtLimit, 8)}`);
  lines.push(`CR0=${hex(s.cr0, 8)} CR2=${hexLinear(s.cr2)} CR3=${hex64(s.cr3)} CR4=${hex(s.cr4, 8)}`);
  lines.push(`DR0=${hexLinear(s.dr[0]!)} DR1=${hexLinear(s.dr[1]!)} DR2=${hexLinear(s.dr[2]!)} DR3=${hexLinear(s.dr[3]!)} `);
  lines.push(`DR6=${hex64(s.dr[6]!)} DR7=${hex64(s.dr[7]!)}`);
  lines.push(`EFER=${hex(0, 8)}${hex(s.efer, 8)}`);
  lines.push(...formatFpuRegisters(cpu));
  return lines.join('\n');
}

/**
 * QEMU's flags column: bits 8-23 of the descriptor's second dword (SDM Vol. 3A 3.4.5), as the
 * segment cache keeps it — type, S, DPL, P, limit 19:16, AVL, L, D/B, G. The limit bits come
 * back from the expanded limit (in 4 KiB units when G is set): Linux's flat __KERNEL_CS shows
 * as 00cf9b00.
 */
function descriptorFlags(ar: number, limit: number): number {
  const rawLimit = ar & Ar.G ? limit >>> 12 : limit >>> 0;
  return ((((ar & 0xf0ff) << 8) | (((rawLimit >>> 16) & 0xf) << 16)) & 0x00ffff00) >>> 0;
}

/** QEMU's ` DPL=0 CS32 [-R-]` style suffix. */
function segmentAttributes(ar: number): string {
  const dpl = (ar >> Ar.DPL_SHIFT) & 3;
  if (!(ar & Ar.S)) {
    const names: Record<number, string> = { 2: 'LDT', 9: 'TSS32-avl', 0xb: 'TSS32-busy', 1: 'TSS16-avl', 3: 'TSS16-busy' };
    return ` DPL=${dpl} ${names[ar & 0xf] ?? 'Reserved'}`;
  }
  if (ar & 0x8) {
    return ` DPL=${dpl} ${ar & Ar.L ? 'CS64' : ar & Ar.DB ? 'CS32' : 'CS16'} [${ar & 0x4 ? 'C' : '-'}${ar & 0x2 ? 'R' : '-'}${ar & 0x1 ? 'A' : '-'}]`;
  }
  return ` DPL=${dpl} ${ar & Ar.DB ? 'DS  ' : 'DS16'} [${ar & 0x4 ? 'E' : '-'}${ar & 0x2 ? 'W' : '-'}${ar & 0x1 ? 'A' : '-'}]`;
}
