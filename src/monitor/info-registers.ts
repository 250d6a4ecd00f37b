/**
 * `info registers` in QEMU's x86 layout (EFL flags in QEMU's order: D O S Z A P C) (target/i386/cpu-dump.c, 32-bit form), so that
 * scripts that parse QEMU's output parse ours.
 */
import type { X86Cpu } from '../cpu/x86/cpu.js';
import { Ar, Fl, SEG_NAMES } from '../cpu/x86/state.js';

const hex = (v: number, w: number) => (v >>> 0).toString(16).padStart(w, '0');

export function formatRegisters(cpu: X86Cpu): string {
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
    // QEMU prints the descriptor's high-dword flags (bits 8-23 of the second dword).
    const flags = ((ar & 0xf0ff) << 8) >>> 0;
    let line = `${name.padEnd(3)}=${hex(s.segSel[i]!, 4)} ${hex(s.segBase[i]!, 8)} ${hex(s.segLimit[i]!, 8)} ${hex(flags & 0x00ffff00, 8)}`;
    if (cpu.protectedMode && !(ar & Ar.UNUSABLE)) line += segmentAttributes(ar);
    lines.push(line);
  }
  lines.push(`GDT=     ${hex(s.gdtBase, 8)} ${hex(s.gdtLimit, 8)}`);
  lines.push(`IDT=     ${hex(s.idtBase, 8)} ${hex(s.idtLimit, 8)}`);
  lines.push(`CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2, 8)} CR3=${hex(s.cr3, 8)} CR4=${hex(s.cr4, 8)}`);
  lines.push(`DR0=${hex(s.dr[0]!, 8)} DR1=${hex(s.dr[1]!, 8)} DR2=${hex(s.dr[2]!, 8)} DR3=${hex(s.dr[3]!, 8)} `);
  lines.push(`DR6=${hex(s.dr[6]!, 8)} DR7=${hex(s.dr[7]!, 8)}`);
  lines.push(`EFER=${hex(0, 8)}${hex(s.efer, 8)}`);
  return lines.join('\n');
}

/** QEMU's ` DPL=0 CS32 [-R-]` style suffix. */
function segmentAttributes(ar: number): string {
  const dpl = (ar >> Ar.DPL_SHIFT) & 3;
  if (!(ar & Ar.S)) {
    const names: Record<number, string> = { 2: 'LDT', 9: 'TSS32-avl', 0xb: 'TSS32-busy', 1: 'TSS16-avl', 3: 'TSS16-busy' };
    return ` DPL=${dpl} ${names[ar & 0xf] ?? 'Reserved'}`;
  }
  if (ar & 0x8) {
    return ` DPL=${dpl} ${ar & Ar.DB ? 'CS32' : 'CS16'} [${ar & 0x4 ? 'C' : '-'}${ar & 0x2 ? 'R' : '-'}${ar & 0x1 ? 'A' : '-'}]`;
  }
  return ` DPL=${dpl} ${ar & Ar.DB ? 'DS  ' : 'DS16'} [${ar & 0x4 ? 'E' : '-'}${ar & 0x2 ? 'W' : '-'}${ar & 0x1 ? 'A' : '-'}]`;
}
