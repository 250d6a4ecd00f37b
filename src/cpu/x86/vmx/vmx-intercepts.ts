/**
 * Sensitive instructions in VMX non-root operation (SDM Vol. 3C 26.1-26.3): the CPU's
 * intercept hook while a guest runs. Each operation either causes a VM exit with its exit
 * reason and qualification (then the instruction unwinds), or runs with the VMX adjustments
 * (CR0/CR4 guest/host masks and read shadows, TSC offsetting) and returns true, or runs
 * normally (false).
 */
import { Sensitive, type X86Cpu } from '../cpu.js';
import { Access } from '../paging.js';
import { Vec } from '../exceptions.js';
import { Cr0, Reg, SegReg } from '../state.js';
import { writeCr } from '../exec-0f.js';
import { F } from './vmcs-fields.js';
import { CR0_FIXED0, CR4_FIXED0, Proc, Proc2 } from './vmx-capabilities.js';
import { physRead8 } from './vmx-memory.js';
import { ExitReason, vmExit, type ExitDetails } from './vm-exit.js';

/** The VM exit of the current instruction: guest RIP is the instruction, with its length. */
export function instructionExit(cpu: X86Cpu, reason: number, d: ExitDetails = {}): never {
  const vmx = cpu.vmx!;
  d.instrLen = (cpu.s.eip - cpu.startEip) & 0xf;
  vmx.vectoringInfo = 0;
  vmExit(vmx, reason, d);
  return vmx.unwind();
}

export function vmxIntercept(cpu: X86Cpu, op: Sensitive, detail: number): boolean {
  const vmx = cpu.vmx!;
  const v = vmx.vmcs!;
  const proc = v.get(F.PROC_CONTROLS);
  const proc2 = proc & Proc.SECONDARY ? v.get(F.PROC_CONTROLS2) : 0;
  switch (op) {
    case Sensitive.Cpuid: return instructionExit(cpu, ExitReason.Cpuid);
    case Sensitive.Invd: return instructionExit(cpu, ExitReason.Invd);
    case Sensitive.Hlt:
      if (proc & Proc.HLT) instructionExit(cpu, ExitReason.Hlt);
      return false;
    case Sensitive.Wbinvd:
      if (proc2 & Proc2.WBINVD) instructionExit(cpu, ExitReason.Wbinvd);
      return false;
    case Sensitive.Pause:
      if (proc & Proc.PAUSE) instructionExit(cpu, ExitReason.Pause);
      return false;
    case Sensitive.Invlpg:
      if (proc & Proc.INVLPG) instructionExit(cpu, ExitReason.Invlpg, { qual: detail });
      return false;
    case Sensitive.IoIn: case Sensitive.IoOut: {
      const port = detail & 0xffff;
      const size = detail >>> 16;
      if (!ioExits(cpu, proc, port, size)) return false;
      return instructionExit(cpu, ExitReason.Io, ioQualification(cpu, op === Sensitive.IoIn, port, size));
    }
    case Sensitive.Rdmsr: case Sensitive.Wrmsr: {
      const write = op === Sensitive.Wrmsr;
      if (msrExits(cpu, proc, write, detail >>> 0)) instructionExit(cpu, write ? ExitReason.Wrmsr : ExitReason.Rdmsr);
      if (!write && detail === 0x10 && (proc & Proc.TSC_OFFSETTING)) {
        setTsc(cpu, guestTsc(cpu, proc));
        return true;
      }
      return false;
    }
    case Sensitive.Rdtsc:
      if (proc & Proc.RDTSC) instructionExit(cpu, ExitReason.Rdtsc);
      setTsc(cpu, guestTsc(cpu, proc));
      return true;
    case Sensitive.Rdtscp:
      // Without "enable RDTSCP" the instruction does not exist for the guest (SDM 26.3).
      if (!(proc2 & Proc2.RDTSCP)) cpu.raise(Vec.UD);
      if (proc & Proc.RDTSC) instructionExit(cpu, ExitReason.Rdtscp);
      setTsc(cpu, guestTsc(cpu, proc));
      cpu.setReg32(Reg.ECX, cpu.s.platform.tscAux);
      return true;
    case Sensitive.MovDr:
      if (proc & Proc.MOV_DR) {
        // Qualification: DR number, direction (1 = MOV from DR), GPR (SDM Table 28-4).
        const dr = detail & 7;
        const reg = (detail >> 8) & 15;
        const from = (detail & 0x10000) === 0;
        instructionExit(cpu, ExitReason.MovDr, { qual: dr | (from ? 0x10 : 0) | (reg << 8) });
      }
      return false;
    case Sensitive.MovToCr: return movToCr(cpu, detail & 15, (detail >> 8) & 15, proc);
    case Sensitive.MovFromCr: return movFromCr(cpu, detail & 15, (detail >> 8) & 15, proc);
    case Sensitive.Clts: {
      const mask = v.get(F.CR0_MASK);
      if ((mask & Cr0.TS) && (v.get(F.CR0_SHADOW) & Cr0.TS)) instructionExit(cpu, ExitReason.CrAccess, { qual: 2 << 4 });
      if (!(mask & Cr0.TS)) cpu.s.cr0 &= ~Cr0.TS;
      return true;
    }
    case Sensitive.Lmsw: {
      const mask = v.get(F.CR0_MASK) & 0xf;
      const shadow = v.get(F.CR0_SHADOW);
      const src = detail & 0xf;
      // LMSW exits if it would set PE while the shadow has it clear, or change MP/EM/TS
      // against the shadow, in a host-owned bit (SDM 26.1.3).
      if (((mask & 1) && (src & 1) && !(shadow & 1)) || ((mask & 0xe) & (src ^ shadow))) {
        const memOperand = cpu.modrm < 0xc0 ? 1 << 6 : 0;
        instructionExit(cpu, ExitReason.CrAccess, { qual: (3 << 4) | memOperand | ((detail & 0xffff) * 65536) });
      }
      const s = cpu.s;
      // Host-owned bits keep their value; PE can be set but not cleared.
      const keep = mask | 0xfffffff0;
      s.cr0 = ((s.cr0 & keep) | (src & ~keep & 0xf) | (s.cr0 & 1)) >>> 0;
      cpu.updateMode();
      return true;
    }
    default:
      return false;
  }
}

/** The guest's view of the TSC: plus the TSC offset with "use TSC offsetting". */
function guestTsc(cpu: X86Cpu, proc: number): number {
  const v = cpu.vmx!.vmcs!;
  return cpu.tscNow() + (proc & Proc.TSC_OFFSETTING ? v.getNum(F.TSC_OFFSET) : 0);
}

function setTsc(cpu: X86Cpu, t: number): void {
  const big = BigInt.asUintN(64, BigInt(Math.floor(t)));
  cpu.setReg32(Reg.EAX, Number(big & 0xffffffffn));
  cpu.setReg32(Reg.EDX, Number(big >> 32n));
}

/** I/O bitmaps or unconditional I/O exiting (SDM 26.1.3). */
function ioExits(cpu: X86Cpu, proc: number, port: number, size: number): boolean {
  if (!(proc & Proc.IO_BITMAPS)) return (proc & Proc.UNCOND_IO) !== 0;
  const v = cpu.vmx!.vmcs!;
  const mem = cpu.bus.mem;
  for (let k = 0; k < size; k++) {
    const p = port + k;
    if (p > 0xffff) return true; // wrapping past port FFFFH always exits
    const base = p < 0x8000 ? v.getU(F.IO_BITMAP_A) : v.getU(F.IO_BITMAP_B);
    if ((physRead8(mem, base + ((p & 0x7fff) >> 3)) >> (p & 7)) & 1) return true;
  }
  return false;
}

/** MSR bitmaps (SDM 25.6.9): four 1 KiB quarters; MSRs outside the two ranges always exit. */
function msrExits(cpu: X86Cpu, proc: number, write: boolean, msr: number): boolean {
  if (!(proc & Proc.MSR_BITMAPS)) return true;
  let off: number;
  let bit: number;
  if (msr <= 0x1fff) {
    off = write ? 2048 : 0;
    bit = msr;
  } else if (msr >= 0xc0000000 && msr <= 0xc0001fff) {
    off = write ? 3072 : 1024;
    bit = msr - 0xc0000000;
  } else {
    return true;
  }
  const base = cpu.vmx!.vmcs!.getU(F.MSR_BITMAP);
  return ((physRead8(cpu.bus.mem, base + off + (bit >> 3)) >> (bit & 7)) & 1) !== 0;
}

/**
 * The I/O exit qualification (SDM Table 28-5): size - 1, direction, string, REP, operand
 * encoding (immediate), port. The form is read back from the instruction's bytes, which
 * were just fetched (a fetch translation cannot fault now).
 */
function ioQualification(cpu: X86Cpu, isIn: boolean, port: number, size: number): ExitDetails {
  const s = cpu.s;
  const len = (s.eip - cpu.startEip) & 0xf;
  let opcode = 0;
  let rep = false;
  for (let i = 0; i < len; i++) {
    const lin = cpu.mode64
      ? cpu.startRipHi * 4294967296 + (cpu.startEip >>> 0) + i
      : (s.segBase[SegReg.CS]! + ((cpu.startEip + i) & cpu.ipMask)) >>> 0;
    const b = cpu.bus.mem.read(cpu.mmu.physical(cpu.mode64 ? lin % 2 ** 48 : lin, Access.Fetch, cpu.tlbSet), 1);
    if (b === 0xf3 || b === 0xf2) rep = true;
    if ((b >= 0x6c && b <= 0x6f) || (b >= 0xe4 && b <= 0xe7) || (b >= 0xec && b <= 0xef)) {
      opcode = b;
      break;
    }
  }
  const string = opcode >= 0x6c && opcode <= 0x6f;
  const imm = opcode >= 0xe4 && opcode <= 0xe7;
  const qual = (size - 1) | (isIn ? 8 : 0) | (string ? 16 : 0) | (string && rep ? 32 : 0) | (imm ? 64 : 0) | (port * 65536);
  const d: ExitDetails = { qual };
  if (string) {
    // Guest-linear address of the memory operand: ES:(E)DI for INS, DS:(E)SI (or override) for OUTS.
    const seg = isIn ? SegReg.ES : cpu.dataSeg;
    const off = isIn ? s.gpr[Reg.EDI]! >>> 0 : s.gpr[Reg.ESI]! >>> 0;
    d.linear = cpu.mode64 ? off : (s.segBase[seg]! + (cpu.adSize === 16 ? off & 0xffff : off)) >>> 0;
  }
  return d;
}

/** MOV to CR0/CR3/CR4/CR8 in non-root operation (SDM 26.1.3, 26.3). */
function movToCr(cpu: X86Cpu, cr: number, reg: number, proc: number): boolean {
  const v = cpu.vmx!.vmcs!;
  const s = cpu.s;
  const qual = cr | (reg << 8); // access type 0: MOV to CR
  const val = s.gpr[reg]! >>> 0;
  switch (cr) {
    case 0: case 4: {
      const mask = v.get(cr === 0 ? F.CR0_MASK : F.CR4_MASK);
      const shadow = v.get(cr === 0 ? F.CR0_SHADOW : F.CR4_SHADOW);
      if (cpu.mode64 && s.gprHi[reg] !== 0) cpu.gp(0);
      if ((mask & (val ^ shadow)) !== 0) instructionExit(cpu, ExitReason.CrAccess, { qual });
      // Host-owned bits keep their current value; the rest come from the source.
      const cur = cr === 0 ? s.cr0 : s.cr4;
      const next = ((cur & mask) | (val & ~mask)) >>> 0;
      // The VMX fixed bits still apply (with unrestricted guest, not to CR0.PE and CR0.PG).
      if (cr === 0) {
        const unrestricted = (proc & Proc.SECONDARY) && (v.get(F.PROC_CONTROLS2) & Proc2.UNRESTRICTED);
        const fixed0 = unrestricted ? (CR0_FIXED0 & ~(Cr0.PE | Cr0.PG)) >>> 0 : CR0_FIXED0;
        if (((next & fixed0) >>> 0) !== fixed0) cpu.gp(0);
      } else if ((next & CR4_FIXED0) !== CR4_FIXED0 || (next & ~cpu.vmx!.caps.cr4Fixed1)) {
        cpu.gp(0);
      }
      writeCr(cpu, cr, next);
      return true;
    }
    case 3: {
      if (!(proc & Proc.CR3_LOAD)) return false;
      const count = v.get(F.CR3_TARGET_COUNT);
      const hi = cpu.mode64 ? s.gprHi[reg]! >>> 0 : 0;
      for (let i = 0; i < count && i < 4; i++) {
        if (v.get(F.CR3_TARGET0 + 2 * i) === val && v.getHi(F.CR3_TARGET0 + 2 * i) === hi) return false;
      }
      return instructionExit(cpu, ExitReason.CrAccess, { qual });
    }
    case 8:
      if (proc & Proc.CR8_LOAD) instructionExit(cpu, ExitReason.CrAccess, { qual });
      return false;
    default:
      return false;
  }
}

function movFromCr(cpu: X86Cpu, cr: number, reg: number, proc: number): boolean {
  const v = cpu.vmx!.vmcs!;
  const s = cpu.s;
  const qual = cr | (1 << 4) | (reg << 8); // access type 1: MOV from CR
  switch (cr) {
    case 0: case 4: {
      // Host-owned bits read from the read shadow (SDM 26.3).
      const mask = v.get(cr === 0 ? F.CR0_MASK : F.CR4_MASK);
      const shadow = v.get(cr === 0 ? F.CR0_SHADOW : F.CR4_SHADOW);
      const value = ((shadow & mask) | ((cr === 0 ? s.cr0 : s.cr4) & ~mask)) >>> 0;
      if (cpu.mode64) cpu.setReg64(reg, value, 0);
      else cpu.setReg32(reg, value);
      return true;
    }
    case 3:
      if (proc & Proc.CR3_STORE) instructionExit(cpu, ExitReason.CrAccess, { qual });
      return false;
    case 8:
      if (proc & Proc.CR8_STORE) instructionExit(cpu, ExitReason.CrAccess, { qual });
      return false;
    default:
      return false;
  }
}
