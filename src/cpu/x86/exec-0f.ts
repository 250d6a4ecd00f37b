/**
 * The two-byte opcode map (0F xx; SDM Vol. 2D Table A-3): system instructions, near Jcc,
 * SETcc/CMOVcc, bit operations, double shifts, MOVZX/MOVSX, CMPXCHG/XADD, BSWAP, CPUID,
 * RDTSC, RDTSCP, RDMSR/WRMSR, SYSENTER/SYSEXIT.
 */
import { alu, AluOp, doubleShift, imulTrunc, maskOf, signExtend } from './alu.js';
import { Ar, Cr0, Cr4, Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { executeCpuid } from './cpuid.js';
import { sysenter, sysexit } from './sysenter.js';
import { rdtscp } from './rdtscp.js';
import { writeCr0, writeCr3, writeCr4 } from './control-regs.js';
import { readMsr, writeMsr } from './msr.js';
import { jumpRel, loadFarPointer, popSeg } from './exec-primary.js';
import { loadSegmentUnchecked, readDescriptor } from './segmentation.js';
import { Sensitive, type X86Cpu } from './cpu.js';
import { dr6Value, dr7Value } from './debug-exceptions.js';
import { execSse } from './sse/exec-sse.js';
import { systemDescriptorHighBase } from './long-system.js';
import { swapgs } from './long-control.js';
import { larLsl } from './lar-lsl.js';
import { isCanonical, linear48 } from './long-decode.js';
import { invEptVpid, rdpmc, vmread, vmwrite, vmxGroup7, vmxGroup9 } from './vmx/vmx-instructions.js';

export function exec0f(cpu: X86Cpu, op: number): void {
  const s = cpu.s;
  const g = s.gpr;
  const os = cpu.opSize;
  switch (op) {
    case 0x00: group6(cpu); return;
    case 0x01: group7(cpu); return;
    case 0x02: case 0x03: larLsl(cpu, op === 0x03); return; // LAR, LSL
    case 0x06: // CLTS
      if (cpu.cpl !== 0) cpu.gp(0);
      if (cpu.intercept?.(cpu, Sensitive.Clts, 0)) return;
      s.cr0 &= ~Cr0.TS;
      return;
    case 0x08: case 0x09: // INVD, WBINVD: no caches to flush
      if (cpu.cpl !== 0) cpu.gp(0);
      cpu.intercept?.(cpu, op === 0x08 ? Sensitive.Invd : Sensitive.Wbinvd, 0);
      return;
    case 0x0b: cpu.raise(Vec.UD); return; // UD2
    // Hint NOPs (SDM Table A-3): 0F 18 PREFETCHh, 0F 19-1E reserved NOPs (ENDBR32 is
    // F3 0F 1E FB), 0F 1F the multi-byte NOP. decodeModrm touches no memory, so a prefetch
    // hint can never fault.
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      cpu.decodeModrm();
      return;
    case 0x20: case 0x22: movCr(cpu, op === 0x22); return;
    case 0x21: case 0x23: movDr(cpu, op === 0x23); return;
    case 0x30: { // WRMSR
      if (cpu.cpl !== 0) cpu.gp(0);
      if (cpu.intercept?.(cpu, Sensitive.Wrmsr, g[Reg.ECX]! >>> 0)) return;
      writeMsr(cpu, g[Reg.ECX]! >>> 0, g[Reg.EAX]! >>> 0, g[Reg.EDX]! >>> 0);
      return;
    }
    case 0x31: { // RDTSC
      if ((s.cr4 & 4) && cpu.cpl !== 0) cpu.gp(0); // CR4.TSD
      if (cpu.intercept?.(cpu, Sensitive.Rdtsc, 0)) return;
      const t = cpu.tscNow();
      cpu.setReg32(Reg.EAX, t % 4294967296);
      cpu.setReg32(Reg.EDX, Math.floor(t / 4294967296));
      return;
    }
    case 0x32: { // RDMSR
      if (cpu.cpl !== 0) cpu.gp(0);
      if (cpu.intercept?.(cpu, Sensitive.Rdmsr, g[Reg.ECX]! >>> 0)) return;
      const [lo, hi] = readMsr(cpu, g[Reg.ECX]! >>> 0);
      cpu.setReg32(Reg.EAX, lo);
      cpu.setReg32(Reg.EDX, hi);
      return;
    }
    case 0x33: rdpmc(cpu); return;
    case 0x34: sysenter(cpu); return;
    case 0x35: sysexit(cpu); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      // CMOVcc: the source is read (and may fault) whether or not the move happens.
      cpu.decodeModrm();
      const v = cpu.readRm(os);
      if (cpu.condition(op & 0xf)) cpu.setReg(os, cpu.modReg, v);
      else if (os === 32) cpu.setReg(32, cpu.modReg, cpu.getReg(32, cpu.modReg));
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      const rel = os === 32 ? cpu.fetch32() | 0 : signExtend(cpu.fetch16(), 16);
      if (cpu.condition(op & 0xf)) jumpRel(cpu, rel);
      return;
    }
    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
      cpu.decodeModrm();
      cpu.writeRm(8, cpu.condition(op & 0xf) ? 1 : 0);
      return;
    case 0x38: { // 66 0F 38 80/81: INVEPT, INVVPID (no other three-byte opcode is implemented)
      const op3 = cpu.fetch8();
      if (cpu.prefix66 && cpu.repPrefix === 0 && (op3 === 0x80 || op3 === 0x81)) {
        invEptVpid(cpu, op3);
        return;
      }
      cpu.unimplemented(`0f 38 ${op3.toString(16)}`);
      return;
    }
    case 0x78: vmread(cpu); return;
    case 0x79: vmwrite(cpu); return;
    case 0xa0: cpu.push(os, s.segSel[SegReg.FS]!); return;
    case 0xa1: popSeg(cpu, SegReg.FS); return;
    case 0xa2: { // CPUID
      if (cpu.intercept?.(cpu, Sensitive.Cpuid, g[Reg.EAX]! >>> 0)) return;
      executeCpuid(cpu);
      return;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: bitTest(cpu, (op >> 3) & 3, false); return;
    case 0xba: bitTest(cpu, -1, true); return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      cpu.decodeModrm();
      const a = cpu.readRm(os);
      const count = op & 1 ? g[Reg.ECX]! & 31 : cpu.fetch8() & 31;
      cpu.writeRm(os, doubleShift(cpu, op < 0xa8, os, a, cpu.getReg(os, cpu.modReg), count));
      return;
    }
    case 0xa8: cpu.push(os, s.segSel[SegReg.GS]!); return;
    case 0xa9: popSeg(cpu, SegReg.GS); return;
    case 0xaf: { // IMUL Gv, Ev
      cpu.decodeModrm();
      cpu.setReg(os, cpu.modReg, imulTrunc(cpu, os, cpu.getReg(os, cpu.modReg), cpu.readRm(os)));
      return;
    }
    case 0xb0: case 0xb1: { // CMPXCHG
      const size = op & 1 ? os : 8;
      cpu.decodeModrm();
      const dst = cpu.readRm(size);
      const acc = cpu.getReg(size, Reg.EAX);
      alu(cpu, AluOp.Cmp, size, acc, dst);
      if (acc === dst) {
        cpu.writeRm(size, cpu.getReg(size, cpu.modReg));
      } else {
        // The destination is written back with its own value (a locked cycle always writes).
        cpu.writeRm(size, dst);
        cpu.setReg(size, Reg.EAX, dst);
      }
      return;
    }
    case 0xb2: case 0xb4: case 0xb5: { // LSS, LFS, LGS
      cpu.decodeModrm();
      if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      loadFarPointer(cpu, op === 0xb2 ? SegReg.SS : op === 0xb4 ? SegReg.FS : SegReg.GS);
      return;
    }
    case 0xb6: case 0xb7: { // MOVZX
      cpu.decodeModrm();
      cpu.setReg(os, cpu.modReg, cpu.readRm(op & 1 ? 16 : 8));
      return;
    }
    case 0xbe: case 0xbf: { // MOVSX
      const from = op & 1 ? 16 : 8;
      cpu.decodeModrm();
      cpu.setReg(os, cpu.modReg, signExtend(cpu.readRm(from), from) & maskOf(os));
      return;
    }
    case 0xbc: case 0xbd: { // BSF, BSR (TZCNT/LZCNT are not advertised: F3 is ignored as on older parts)
      cpu.decodeModrm();
      const v = cpu.readRm(os);
      cpu.materializeFlags();
      if (v === 0) {
        // Destination unchanged (Intel leaves it undefined; AMD documents "unchanged").
        s.eflags |= Fl.ZF;
        return;
      }
      s.eflags &= ~Fl.ZF;
      const idx = op === 0xbc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
      cpu.setReg(os, cpu.modReg, idx);
      return;
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op & 1 ? os : 8;
      cpu.decodeModrm();
      const reg = cpu.modReg;
      const dst = cpu.readRm(size);
      const src = cpu.getReg(size, reg);
      const sum = alu(cpu, AluOp.Add, size, dst, src);
      cpu.writeRm(size, sum);
      cpu.setReg(size, reg, dst);
      return;
    }
    case 0xc7: { // Group 9: CMPXCHG8B; /6 and /7: the VMX pointer instructions
      cpu.decodeModrm();
      if (cpu.modOp >= 6) {
        vmxGroup9(cpu);
        return;
      }
      if (cpu.modOp !== 1 || cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      const hiOff = cpu.offsetAdd(cpu.eaOff, 4);
      const lo = cpu.read32(cpu.eaSeg, cpu.eaOff);
      const hi = cpu.read32(cpu.eaSeg, hiOff);
      cpu.materializeFlags();
      if (lo === g[Reg.EAX]! >>> 0 && hi === g[Reg.EDX]! >>> 0) {
        cpu.write32(cpu.eaSeg, cpu.eaOff, g[Reg.EBX]!);
        cpu.write32(cpu.eaSeg, hiOff, g[Reg.ECX]!);
        s.eflags |= Fl.ZF;
      } else {
        cpu.write32(cpu.eaSeg, cpu.eaOff, lo);
        cpu.write32(cpu.eaSeg, hiOff, hi);
        cpu.setReg32(Reg.EAX, lo);
        cpu.setReg32(Reg.EDX, hi);
        s.eflags &= ~Fl.ZF;
      }
      return;
    }
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: {
      const r = op & 7;
      const v = g[r]!;
      if (os === 32) {
        g[r] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
      } else {
        // XXX: BSWAP of a 16-bit register is undefined; Intel parts zero it, as QEMU does.
        cpu.setReg(16, r, 0);
      }
      return;
    }
    default:
      if (execSse(cpu, op)) return;
      cpu.unimplemented(`opcode 0f ${op.toString(16).padStart(2, '0')}`);
  }
}

/**
 * BT/BTS/BTR/BTC. `kind` 0 BT, 1 BTS, 2 BTR, 3 BTC, or -1 for group 8 (0F BA, kind from
 * ModRM.reg, immediate bit offset). With a register bit offset and a memory operand the
 * offset addresses bits beyond the operand (signed), as the SDM describes.
 */
function bitTest(cpu: X86Cpu, kind: number, immediate: boolean): void {
  const os = cpu.opSize;
  cpu.decodeModrm();
  let k = kind;
  let bit: number;
  if (immediate) {
    k = cpu.modOp - 4;
    if (k < 0) cpu.raise(Vec.UD);
    bit = cpu.fetch8() & (os - 1);
  } else {
    bit = cpu.getReg(os, cpu.modReg);
  }
  let value: number;
  if (cpu.modrm >= 0xc0) {
    bit &= os - 1;
    value = cpu.getReg(os, cpu.rmReg);
  } else {
    if (!immediate) {
      const signed = signExtend(bit, os);
      const step = Math.floor(signed / os) * (os / 8);
      cpu.eaOff = cpu.offsetAdd(cpu.eaOff, step);
      bit = ((signed % os) + os) % os;
    }
    value = cpu.readRm(os);
  }
  const mask = (1 << bit) >>> 0;
  const cf = value & mask ? 1 : 0;
  cpu.materializeFlags();
  cpu.s.eflags = (cpu.s.eflags & ~Fl.CF) | cf;
  if (k === 0) return;
  const nv = k === 1 ? value | mask : k === 2 ? value & ~mask : value ^ mask;
  cpu.writeRm(os, (nv & maskOf(os)) >>> 0);
}

function movCr(cpu: X86Cpu, toCr: boolean): void {
  const s = cpu.s;
  cpu.decodeModrm(); // always a register operand, whatever mod says
  const cr = cpu.modReg;
  const r = cpu.rmReg;
  if (cpu.cpl !== 0) cpu.gp(0);
  if (cr === 1 || cr > 4) cpu.raise(Vec.UD);
  if (!toCr) {
    if (cpu.intercept?.(cpu, Sensitive.MovFromCr, cr | (r << 8))) return;
    const v = cr === 0 ? s.cr0 : cr === 2 ? s.cr2 : cr === 3 ? s.cr3 : s.cr4;
    cpu.setReg32(r, v);
    return;
  }
  if (cpu.intercept?.(cpu, Sensitive.MovToCr, cr | (r << 8))) return;
  writeCr(cpu, cr, s.gpr[r]! >>> 0);
}

/** MOV to CR0/CR2/CR3/CR4 after the privilege and intercept checks (also used in 64-bit mode). */
export function writeCr(cpu: X86Cpu, cr: number, v: number): void {
  const s = cpu.s;
  switch (cr) {
    case 0: writeCr0(cpu, v); return;
    case 2: s.cr2 = v; return;
    case 3: writeCr3(cpu, v); return;
    default: writeCr4(cpu, v); return;
  }
}

function movDr(cpu: X86Cpu, toDr: boolean): void {
  const s = cpu.s;
  cpu.decodeModrm();
  const dr = cpu.modReg;
  const r = cpu.rmReg;
  // MOV-DR exiting comes before the CPL #GP and the CR4.DE #UD (SDM Vol. 3C 26.1.3, an
  // exception to the priorities of 26.1.1) and before DR7.GD's #DB (a fault-like VM exit).
  if (cpu.intercept?.(cpu, Sensitive.MovDr, dr | (r << 8) | (toDr ? 0x10000 : 0))) return;
  if (cpu.cpl !== 0) cpu.gp(0);
  if ((dr === 4 || dr === 5) && (s.cr4 & 0x8)) cpu.raise(Vec.UD); // CR4.DE
  // DR7.GD: #DB before the access.
  cpu.debug.generalDetect();
  const idx = dr === 4 ? 6 : dr === 5 ? 7 : dr;
  if (toDr) {
    const v = s.gpr[r]! >>> 0;
    s.dr[idx] = idx === 6 ? dr6Value(v) : idx === 7 ? dr7Value(v) : v;
    // Breakpoints are acted on from the next instruction (debug-exceptions.ts).
    if (idx !== 6) cpu.debug.update();
  } else {
    cpu.setReg32(r, s.dr[idx]!);
  }
}

/** Group 6: SLDT, STR, LLDT, LTR, VERR, VERW. */
function group6(cpu: X86Cpu): void {
  const s = cpu.s;
  cpu.decodeModrm();
  const r = cpu.modOp;
  if (!cpu.protectedMode) cpu.raise(Vec.UD);
  switch (r) {
    case 0: case 1: { // SLDT / STR: a register destination gets the zero-extended selector
      const sel = s.segSel[r === 0 ? SegReg.LDTR : SegReg.TR]!;
      if (cpu.modrm >= 0xc0) cpu.setReg(cpu.opSize === 16 ? 16 : 32, cpu.rmReg, sel);
      else cpu.writeRm(16, sel);
      return;
    }
    case 2: { // LLDT
      if (cpu.cpl !== 0) cpu.gp(0);
      const sel = cpu.readRm(16);
      if ((sel & 0xfffc) === 0) {
        s.segSel[SegReg.LDTR] = sel;
        s.segAr[SegReg.LDTR] = Ar.UNUSABLE;
        return;
      }
      if (sel & 4) cpu.gp(sel & 0xfffc);
      const d = readDescriptor(cpu, sel);
      if ((d.ar & (Ar.S | 0xf)) !== 0x2) cpu.gp(sel & 0xfffc);
      if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, sel & 0xfffc);
      if (cpu.lma) d.base += systemDescriptorHighBase(cpu, sel);
      loadSegmentUnchecked(cpu, SegReg.LDTR, sel, d);
      return;
    }
    case 3: { // LTR: marks the TSS busy
      if (cpu.cpl !== 0) cpu.gp(0);
      const sel = cpu.readRm(16);
      if ((sel & 0xfffc) === 0 || (sel & 4)) cpu.gp(sel & 0xfffc);
      const d = readDescriptor(cpu, sel);
      const type = d.ar & (Ar.S | 0xf);
      // IA-32e mode knows only the 64-bit TSS (type 9); 16-bit TSSs are #GP there.
      if (type !== 0x9 && (type !== 0x1 || cpu.lma)) cpu.gp(sel & 0xfffc);
      if (!(d.ar & Ar.P)) cpu.raise(Vec.NP, sel & 0xfffc);
      if (cpu.lma) d.base += systemDescriptorHighBase(cpu, sel);
      const addr = (sel & 4 ? s.segBase[SegReg.LDTR]! : s.gdtBase) + (sel & 0xfff8);
      cpu.writeLinear(addr + 5, 1, ((d.hi >>> 8) & 0xff) | 0x2);
      d.ar |= 0x2;
      loadSegmentUnchecked(cpu, SegReg.TR, sel, d);
      return;
    }
    default: { // VERR (4) / VERW (5)
      if (r > 5) cpu.raise(Vec.UD);
      const sel = cpu.readRm(16);
      cpu.materializeFlags();
      s.eflags &= ~Fl.ZF;
      if ((sel & 0xfffc) === 0) return;
      const inTable = sel & 4 ? (sel & 0xfff8) + 7 <= s.segLimit[SegReg.LDTR]! : (sel & 0xfff8) + 7 <= s.gdtLimit;
      if (!inTable) return;
      const d = readDescriptor(cpu, sel);
      if (!(d.ar & Ar.S)) return;
      const dpl = (d.ar >> Ar.DPL_SHIFT) & 3;
      const conformingCode = (d.ar & 0xc) === 0xc;
      if (!conformingCode && (dpl < cpu.cpl || dpl < (sel & 3))) return;
      const ok = r === 4 ? (d.ar & 0x8) === 0 || (d.ar & 0x2) !== 0 : (d.ar & 0xa) === 0x2;
      if (ok) s.eflags |= Fl.ZF;
      return;
    }
  }
}

/** Group 7: SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG. */
function group7(cpu: X86Cpu): void {
  const s = cpu.s;
  cpu.decodeModrm();
  const r = cpu.modOp;
  const mem = cpu.modrm < 0xc0;
  const m = cpu.modrm;
  if ((m >= 0xc1 && m <= 0xc4) || m === 0xc8 || m === 0xc9) {
    vmxGroup7(cpu); // VMCALL, VMLAUNCH, VMRESUME, VMXOFF; MONITOR, MWAIT
    return;
  }
  switch (r) {
    case 0: case 1: { // SGDT / SIDT
      if (!mem) cpu.unimplemented(`0f 01 ${cpu.modrm.toString(16)}`);
      const base = r === 0 ? s.gdtBase : s.idtBase;
      const limit = r === 0 ? s.gdtLimit : s.idtLimit;
      cpu.write16(cpu.eaSeg, cpu.eaOff, limit);
      // With a 16-bit operand size the 286 wrote 0xFF in the top byte; 386+ store the full base;
      // 64-bit mode stores 8 bytes (the 10-byte form).
      const baseOff = cpu.offsetAdd(cpu.eaOff, 2);
      if (cpu.mode64) cpu.write64(cpu.eaSeg, baseOff, base >>> 0, Math.floor(base / 4294967296));
      else cpu.write32(cpu.eaSeg, baseOff, base);
      return;
    }
    case 2: case 3: { // LGDT / LIDT
      if (!mem) cpu.unimplemented(`0f 01 ${cpu.modrm.toString(16)}`);
      if (cpu.cpl !== 0) cpu.gp(0);
      const limit = cpu.read16(cpu.eaSeg, cpu.eaOff);
      const baseOff = cpu.offsetAdd(cpu.eaOff, 2);
      let base = cpu.read32(cpu.eaSeg, baseOff);
      if (cpu.mode64) {
        // The 10-byte form: a 64-bit base, which must be canonical.
        base = cpu.read64(cpu.eaSeg, baseOff);
        base = cpu.hi * 4294967296 + base;
        if (!isCanonical(base)) cpu.gp(0);
      } else if (cpu.opSize === 16) {
        base &= 0xffffff;
      }
      if (r === 2) {
        s.gdtBase = base;
        s.gdtLimit = limit;
      } else {
        s.idtBase = base;
        s.idtLimit = limit;
      }
      return;
    }
    case 4: // SMSW
      if (!mem) cpu.setReg(cpu.opSize === 16 ? 16 : 32, cpu.rmReg, s.cr0 & (cpu.opSize === 16 ? 0xffff : 0xffffffff));
      else cpu.writeRm(16, s.cr0 & 0xffff);
      return;
    case 6: { // LMSW: can set PE but never clear it; only the low four bits
      if (cpu.cpl !== 0) cpu.gp(0);
      const v = cpu.readRm(16);
      if (cpu.intercept?.(cpu, Sensitive.Lmsw, v)) return;
      s.cr0 = ((s.cr0 & ~0xe) | (v & 0xf) | (s.cr0 & 1)) >>> 0;
      cpu.updateMode();
      return;
    }
    case 7: { // INVLPG (no segment-limit check, only the linear address matters); 0F 01 F8 SWAPGS, F9 RDTSCP
      if (cpu.modrm === 0xf8) {
        swapgs(cpu);
        return;
      }
      if (cpu.modrm === 0xf9) {
        rdtscp(cpu);
        return;
      }
      if (!mem) cpu.unimplemented(`0f 01 ${cpu.modrm.toString(16)}`);
      if (cpu.cpl !== 0) cpu.gp(0);
      const lin = cpu.mode64
        ? linear48(cpu.eaOff + (cpu.eaSeg >= SegReg.FS ? s.segBase[cpu.eaSeg]! : 0))
        : (s.segBase[cpu.eaSeg]! + cpu.eaOff) >>> 0;
      if (cpu.intercept?.(cpu, Sensitive.Invlpg, lin)) return;
      cpu.mmu.invalidatePage(lin);
      return;
    }
    default:
      cpu.unimplemented(`0f 01 /${r}`);
  }
}

