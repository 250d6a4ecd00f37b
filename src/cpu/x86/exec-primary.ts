/**
 * The one-byte opcode map (SDM Vol. 2D Appendix A, Table A-2): integer instructions of the
 * 8086 through Pentium, dispatched by a switch the engine compiles into a jump table.
 * Two-byte (0F xx) opcodes continue in exec-0f.ts.
 */
import {
  aaa, aad, aam, alu, AluOp, daa, das, dec, divAcc, idivAcc, imulAcc, imulTrunc, inc, maskOf, mulAcc, neg,
  shift, signExtend,
} from './alu.js';
import { Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { deliverEvent, EventKind } from './interrupts.js';
import { callFar, iret, jmpFar, retFar } from './control.js';
import { stringOp, StrOp } from './string-ops.js';
import { exec0f } from './exec-0f.js';
import { Shadow } from './debug-exceptions.js';
import { execWait, execX87 } from './fpu/exec-x87.js';
import { Sensitive, type X86Cpu } from './cpu.js';
import type { AccessSize } from '../../memory/io-bus.js';

/** An instruction handler: `op` is the opcode byte, the prefixes are decoded. */
export type OpHandler = (cpu: X86Cpu, op: number) => void;

export function execPrimary(cpu: X86Cpu, op: number): void {
  const s = cpu.s;
  const g = s.gpr;
  const os = cpu.opSize;
  switch (op) {
    // ---- ALU ops: 00-3F in the pattern op Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / eAX,Iv ----
    case 0x00: case 0x08: case 0x10: case 0x18: case 0x20: case 0x28: case 0x30: case 0x38:
    case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39:
      aluEG(cpu, op);
      return;
    case 0x02: case 0x0a: case 0x12: case 0x1a: case 0x22: case 0x2a: case 0x32: case 0x3a:
    case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b:
      aluGE(cpu, op);
      return;
    case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c: case 0x34: case 0x3c:
    case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
      aluAccImm(cpu, op);
      return;

    // ---- Segment register push/pop ----
    case 0x06: cpu.push(os, s.segSel[SegReg.ES]!); return;
    case 0x07: popSeg(cpu, SegReg.ES); return;
    case 0x0e: cpu.push(os, s.segSel[SegReg.CS]!); return;
    case 0x16: cpu.push(os, s.segSel[SegReg.SS]!); return;
    case 0x17: popSeg(cpu, SegReg.SS); s.interruptShadow = Shadow.MovSs; return;
    case 0x1e: cpu.push(os, s.segSel[SegReg.DS]!); return;
    case 0x1f: popSeg(cpu, SegReg.DS); return;
    case 0x0f: exec0f(cpu, cpu.fetch8()); return;

    // ---- BCD ----
    case 0x27: daa(cpu); return;
    case 0x2f: das(cpu); return;
    case 0x37: aaa(cpu, false); return;
    case 0x3f: aaa(cpu, true); return;

    // ---- INC/DEC/PUSH/POP r ----
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
      incDecReg(cpu, op);
      return;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      pushReg(cpu, op & 7);
      return;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
      popReg(cpu, op & 7);
      return;

    case 0x60: { // PUSHA/PUSHAD
      const sp = cpu.getReg(os, Reg.ESP);
      const saved = g[Reg.ESP]!;
      try {
        for (let r = 0; r < 8; r++) cpu.push(os, r === Reg.ESP ? sp : cpu.getReg(os, r));
      } catch (e) {
        g[Reg.ESP] = saved;
        throw e;
      }
      return;
    }
    case 0x61: { // POPA/POPAD (the saved SP is skipped)
      const vals = [0, 0, 0, 0, 0, 0, 0, 0];
      for (let i = 0; i < 8; i++) vals[7 - i] = cpu.peekStack(os, i * (os / 8));
      for (let r = 0; r < 8; r++) if (r !== Reg.ESP) cpu.setReg(os, r, vals[r]!);
      cpu.setSp(cpu.sp + 8 * (os / 8));
      return;
    }
    case 0x62: { // BOUND Gv, Ma
      cpu.decodeModrm();
      if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      const idx = signExtend(cpu.getReg(os, cpu.modReg), os);
      const lo = signExtend(cpu.readSized(os, cpu.eaSeg, cpu.eaOff), os);
      const hi = signExtend(cpu.readSized(os, cpu.eaSeg, (cpu.eaOff + os / 8) >>> 0), os);
      if (idx < lo || idx > hi) cpu.raise(Vec.BR);
      return;
    }
    case 0x63: { // ARPL Ew, Gw (protected mode only)
      if (!cpu.protectedMode) cpu.raise(Vec.UD);
      cpu.decodeModrm();
      const dst = cpu.readRm(16);
      const src = cpu.getReg(16, cpu.modReg);
      cpu.materializeFlags();
      if ((dst & 3) < (src & 3)) {
        cpu.writeRm(16, (dst & ~3) | (src & 3));
        s.eflags |= Fl.ZF;
      } else {
        s.eflags &= ~Fl.ZF;
      }
      return;
    }
    case 0x68: cpu.push(os, cpu.fetchImm(os)); return;
    case 0x6a: cpu.push(os, signExtend(cpu.fetch8(), 8) & maskOf(os)); return;
    case 0x69: case 0x6b: { // IMUL Gv, Ev, Iv/Ib
      cpu.decodeModrm();
      const a = cpu.readRm(os);
      const b = op === 0x69 ? cpu.fetchImm(os) : signExtend(cpu.fetch8(), 8) & maskOf(os);
      cpu.setReg(os, cpu.modReg, imulTrunc(cpu, os, a, b));
      return;
    }
    case 0x6c: stringOp(cpu, StrOp.Ins, 8); return;
    case 0x6d: stringOp(cpu, StrOp.Ins, os); return;
    case 0x6e: stringOp(cpu, StrOp.Outs, 8); return;
    case 0x6f: stringOp(cpu, StrOp.Outs, os); return;

    // ---- Jcc rel8 ----
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
      jccShort(cpu, op);
      return;

    // ---- Group 1: ALU Eb/Ev with immediate ----
    case 0x80: case 0x82: group1b(cpu); return;
    case 0x81: case 0x83: group1v(cpu, op); return;
    case 0x84: case 0x85: testEG(cpu, op & 1 ? os : 8); return;
    case 0x86: case 0x87: { // XCHG (implicitly locked)
      const size = op & 1 ? os : 8;
      cpu.decodeModrm();
      const reg = cpu.modReg;
      const a = cpu.readRm(size);
      cpu.writeRm(size, cpu.getReg(size, reg));
      cpu.setReg(size, reg, a);
      return;
    }
    case 0x88: movEbGb(cpu); return;
    case 0x89: movEvGv(cpu); return;
    case 0x8a: movGbEb(cpu); return;
    case 0x8b: movGvEv(cpu); return;
    case 0x8c: { // MOV Ev, Sreg (register destinations get the zero-extended selector at 32 bits)
      cpu.decodeModrm();
      const sr = cpu.modOp;
      if (sr > 5) cpu.raise(Vec.UD);
      if (cpu.modrm >= 0xc0) cpu.setReg(os, cpu.rmReg, s.segSel[sr]!);
      else cpu.writeRm(16, s.segSel[sr]!);
      return;
    }
    case 0x8d: lea(cpu); return;
    case 0x8e: { // MOV Sreg, Ew
      cpu.decodeModrm();
      const sr = cpu.modOp;
      if (sr === SegReg.CS || sr > 5) cpu.raise(Vec.UD);
      cpu.loadSeg(sr, cpu.readRm(16));
      if (sr === SegReg.SS) s.interruptShadow = Shadow.MovSs;
      return;
    }
    case 0x8f: { // POP Ev (ESP is incremented before the address is computed)
      const v = cpu.peekStack(os, 0);
      const oldSp = g[Reg.ESP]!;
      cpu.setSp(cpu.sp + os / 8);
      try {
        cpu.decodeModrm();
        if (cpu.modOp !== 0) cpu.raise(Vec.UD);
        cpu.writeRm(os, v);
      } catch (e) {
        g[Reg.ESP] = oldSp;
        throw e;
      }
      return;
    }

    case 0x90: // NOP; F3 90 is PAUSE
      if (cpu.repPrefix === 0xf3) cpu.intercept?.(cpu, Sensitive.Pause, 0);
      return;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const r = op & 7;
      const t = cpu.getReg(os, r);
      cpu.setReg(os, r, cpu.getReg(os, Reg.EAX));
      cpu.setReg(os, Reg.EAX, t);
      return;
    }
    case 0x98: // CBW / CWDE
      if (os === 16) cpu.setReg(16, Reg.EAX, signExtend(g[Reg.EAX]! & 0xff, 8));
      else cpu.setReg32(Reg.EAX, signExtend(g[Reg.EAX]! & 0xffff, 16));
      return;
    case 0x99: // CWD / CDQ
      if (os === 16) cpu.setReg(16, Reg.EDX, g[Reg.EAX]! & 0x8000 ? 0xffff : 0);
      else cpu.setReg32(Reg.EDX, g[Reg.EAX]! >> 31);
      return;
    case 0x9a: { // CALL ptr16:16/32
      const off = cpu.fetchImm(os);
      const sel = cpu.fetch16();
      callFar(cpu, sel, off);
      return;
    }
    case 0x9b: execWait(cpu); return; // WAIT/FWAIT
    case 0x9c: { // PUSHF
      if ((s.eflags & Fl.VM) && ((s.eflags & Fl.IOPL) >> 12) < 3) cpu.gp(0);
      cpu.push(os, cpu.getEflags() & (os === 32 ? 0x00fcffff : 0xffff));
      return;
    }
    case 0x9d: popf(cpu); return;
    case 0x9e: { // SAHF
      cpu.materializeFlags();
      s.eflags = (s.eflags & ~0xd5) | (cpu.reg8(4) & 0xd5);
      return;
    }
    case 0x9f: cpu.setReg8(4, (cpu.getEflags() & 0xd7) | 0x02); return; // LAHF

    // ---- MOV moffs ----
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      const off = cpu.adSize === 32 ? cpu.fetch32() : cpu.fetch16();
      const size = op & 1 ? os : 8;
      if (op < 0xa2) cpu.setReg(size, Reg.EAX, cpu.readSized(size, cpu.dataSeg, off));
      else cpu.writeSized(size, cpu.dataSeg, off, cpu.getReg(size, Reg.EAX));
      return;
    }
    case 0xa4: stringOp(cpu, StrOp.Movs, 8); return;
    case 0xa5: stringOp(cpu, StrOp.Movs, os); return;
    case 0xa6: stringOp(cpu, StrOp.Cmps, 8); return;
    case 0xa7: stringOp(cpu, StrOp.Cmps, os); return;
    case 0xa8: alu(cpu, AluOp.And, 8, cpu.reg8(0), cpu.fetch8()); return;
    case 0xa9: alu(cpu, AluOp.And, os, cpu.getReg(os, Reg.EAX), cpu.fetchImm(os)); return;
    case 0xaa: stringOp(cpu, StrOp.Stos, 8); return;
    case 0xab: stringOp(cpu, StrOp.Stos, os); return;
    case 0xac: stringOp(cpu, StrOp.Lods, 8); return;
    case 0xad: stringOp(cpu, StrOp.Lods, os); return;
    case 0xae: stringOp(cpu, StrOp.Scas, 8); return;
    case 0xaf: stringOp(cpu, StrOp.Scas, os); return;

    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      cpu.setReg8(op & 7, cpu.fetch8());
      return;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      movRegImm(cpu, op & 7);
      return;

    // ---- Group 2 shifts ----
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
      group2(cpu, op);
      return;
    case 0xc2: { // RET imm16
      const n = cpu.fetch16();
      const ip = cpu.pop(os);
      cpu.setSp(cpu.sp + n);
      setIp(cpu, ip);
      return;
    }
    case 0xc3: retNear(cpu); return;
    case 0xc4: case 0xc5: { // LES / LDS
      cpu.decodeModrm();
      if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      loadFarPointer(cpu, op === 0xc4 ? SegReg.ES : SegReg.DS);
      return;
    }
    case 0xc6: case 0xc7: { // MOV Eb/Ev, Ib/Iv
      const size = op & 1 ? os : 8;
      cpu.decodeModrm();
      if (cpu.modOp !== 0) cpu.raise(Vec.UD);
      cpu.writeRm(size, cpu.fetchImm(size));
      return;
    }
    case 0xc8: enter(cpu); return;
    case 0xc9: { // LEAVE
      const bp = cpu.ss32 ? g[Reg.EBP]! >>> 0 : g[Reg.EBP]! & 0xffff;
      const v = os === 32 ? cpu.read32(SegReg.SS, bp) : cpu.read16(SegReg.SS, bp);
      cpu.setSp(bp + os / 8);
      cpu.setReg(os, Reg.EBP, v);
      return;
    }
    case 0xca: retFar(cpu, os, cpu.fetch16()); return;
    case 0xcb: retFar(cpu, os, 0); return;
    case 0xcc: softwareInterrupt(cpu, Vec.BP, EventKind.SoftwareException); return;
    case 0xcd: {
      const n = cpu.fetch8();
      if ((s.eflags & Fl.VM) && ((s.eflags & Fl.IOPL) >> 12) < 3) cpu.gp(0);
      softwareInterrupt(cpu, n, EventKind.SoftwareInt);
      return;
    }
    case 0xce: if (cpu.getEflags() & Fl.OF) softwareInterrupt(cpu, Vec.OF, EventKind.SoftwareException); return;
    case 0xcf: iret(cpu, os); return;

    case 0xd4: aam(cpu, cpu.fetch8()); return;
    case 0xd5: aad(cpu, cpu.fetch8()); return;
    case 0xd6: cpu.setReg8(0, cpu.getCF() ? 0xff : 0); return; // SALC (undocumented, present on Intel)
    case 0xd7: { // XLAT
      const bx = cpu.adSize === 32 ? g[Reg.EBX]! >>> 0 : g[Reg.EBX]! & 0xffff;
      const off = (bx + cpu.reg8(0)) & (cpu.adSize === 32 ? 0xffffffff : 0xffff);
      cpu.setReg8(0, cpu.read8(cpu.dataSeg, off >>> 0));
      return;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
      execX87(cpu, op);
      return;

    // ---- LOOP / JCXZ ----
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: {
      const rel = (cpu.fetch8() << 24) >> 24;
      const a32 = cpu.adSize === 32;
      let cx = a32 ? g[Reg.ECX]! >>> 0 : g[Reg.ECX]! & 0xffff;
      let take: boolean;
      if (op === 0xe3) {
        take = cx === 0;
      } else {
        cx = a32 ? (cx - 1) >>> 0 : (cx - 1) & 0xffff;
        if (a32) g[Reg.ECX] = cx;
        else g[Reg.ECX] = (g[Reg.ECX]! & ~0xffff) | cx;
        take = cx !== 0 && (op === 0xe2 || (op === 0xe1 ? cpu.getZF() : !cpu.getZF()));
      }
      if (take) jumpRel(cpu, rel);
      return;
    }
    case 0xe4: cpu.setReg8(0, cpu.portIn(cpu.fetch8(), 1)); return;
    case 0xe5: cpu.setReg(os, Reg.EAX, cpu.portIn(cpu.fetch8(), (os / 8) as AccessSize)); return;
    case 0xe6: cpu.portOut(cpu.fetch8(), 1, cpu.reg8(0)); return;
    case 0xe7: cpu.portOut(cpu.fetch8(), (os / 8) as AccessSize, cpu.getReg(os, Reg.EAX)); return;
    case 0xe8: callRel(cpu); return;
    case 0xe9: jmpRel(cpu); return;
    case 0xea: { // JMP ptr16:16/32
      const off = cpu.fetchImm(os);
      const sel = cpu.fetch16();
      jmpFar(cpu, sel, off);
      return;
    }
    case 0xeb: jmpShort(cpu); return;
    case 0xec: cpu.setReg8(0, cpu.portIn(g[Reg.EDX]! & 0xffff, 1)); return;
    case 0xed: cpu.setReg(os, Reg.EAX, cpu.portIn(g[Reg.EDX]! & 0xffff, (os / 8) as AccessSize)); return;
    case 0xee: cpu.portOut(g[Reg.EDX]! & 0xffff, 1, cpu.reg8(0)); return;
    case 0xef: cpu.portOut(g[Reg.EDX]! & 0xffff, (os / 8) as AccessSize, cpu.getReg(os, Reg.EAX)); return;

    // INT1 (ICEBP): #DB as a trap, without the gate DPL check or a DR6 update (SDM Vol. 2 INT1).
    case 0xf1: softwareInterrupt(cpu, Vec.DB, EventKind.PrivSoftwareException); return;
    case 0xf4: // HLT
      if (cpu.cpl !== 0) cpu.gp(0);
      if (cpu.intercept?.(cpu, Sensitive.Hlt, 0)) return;
      s.halted = true;
      return;
    case 0xf5: cpu.materializeFlags(); s.eflags ^= Fl.CF; return; // CMC
    case 0xf6: case 0xf7: group3(cpu, op & 1 ? os : 8); return;
    case 0xf8: cpu.materializeFlags(); s.eflags &= ~Fl.CF; return;
    case 0xf9: cpu.materializeFlags(); s.eflags |= Fl.CF; return;
    case 0xfa: // CLI
      checkIopl(cpu);
      s.eflags &= ~Fl.IF;
      return;
    case 0xfb: // STI: interrupts stay blocked for one more instruction
      checkIopl(cpu);
      if (!(s.eflags & Fl.IF)) s.interruptShadow = Shadow.Sti;
      s.eflags |= Fl.IF;
      return;
    case 0xfc: s.eflags &= ~Fl.DF; return;
    case 0xfd: s.eflags |= Fl.DF; return;
    case 0xfe: { // Group 4: INC/DEC Eb
      cpu.decodeModrm();
      const r = cpu.modOp;
      if (r > 1) cpu.raise(Vec.UD);
      const a = cpu.readRm(8);
      cpu.writeRm(8, r === 0 ? inc(cpu, 8, a) : dec(cpu, 8, a));
      return;
    }
    case 0xff: group5(cpu, os); return;
    default:
      // 0x26/0x2e/0x36/0x3e/0x64-0x67/0xf0/0xf2/0xf3 are prefixes handled by step(); what
      // remains here is an opcode the CPU does not implement.
      cpu.unimplemented(`opcode ${op.toString(16).padStart(2, '0')}`);
  }
}

function checkIopl(cpu: X86Cpu): void {
  // XXX: CR4.VME/PVI virtual interrupt flags are not implemented (not advertised).
  const iopl = (cpu.s.eflags & Fl.IOPL) >> 12;
  if ((cpu.protectedMode && cpu.cpl > iopl) || ((cpu.s.eflags & Fl.VM) && iopl < 3)) cpu.gp(0);
}

/** Near jump by `rel` from the end of the instruction, with the CS limit check. */
export function jumpRel(cpu: X86Cpu, rel: number): void {
  const s = cpu.s;
  const target = cpu.opSize === 16 ? (s.eip + rel) & 0xffff : (s.eip + rel) | 0;
  setIp(cpu, target >>> 0);
}

/** Sets EIP for a near transfer, checking it against the CS limit (#GP(0), SDM JMP). */
export function setIp(cpu: X86Cpu, ip: number): void {
  if ((ip >>> 0) > cpu.s.segLimit[SegReg.CS]!) cpu.gp(0);
  cpu.s.eip = ip;
}

/** POP ES/SS/DS/FS/GS: the selector is loaded (and checked) before SP moves. */
export function popSeg(cpu: X86Cpu, seg: number): void {
  const v = cpu.peekStack(cpu.opSize, 0) & 0xffff;
  cpu.loadSeg(seg, v);
  cpu.setSp(cpu.sp + cpu.opSize / 8);
}

export function popf(cpu: X86Cpu): void {
  const os = cpu.opSize;
  const old = cpu.getEflags();
  const iopl = (old & Fl.IOPL) >> 12;
  if ((old & Fl.VM) && iopl < 3) cpu.gp(0);
  const v = cpu.pop(os);
  // Bits POPF may change: never VM, VIP, VIF, RF; IOPL only at CPL 0; IF only if CPL <= IOPL.
  let writable = Fl.ARITH | Fl.TF | Fl.DF | Fl.NT | Fl.AC | Fl.ID | Fl.IF | Fl.IOPL;
  if (os === 16) writable &= 0xffff;
  if (cpu.protectedMode) {
    if (cpu.cpl > 0) writable &= ~Fl.IOPL;
    if (cpu.cpl > iopl) writable &= ~Fl.IF;
  } else if (old & Fl.VM) {
    writable &= ~Fl.IOPL;
  }
  cpu.setEflags((v & writable) | (old & ~writable));
}

function loadFarPointer(cpu: X86Cpu, seg: number): void {
  const os = cpu.opSize;
  const off = cpu.readSized(os, cpu.eaSeg, cpu.eaOff);
  const offHi = cpu.hi; // LSS/LFS/LGS m16:64 (REX.W)
  const sel = cpu.read16(cpu.eaSeg, cpu.offsetAdd(cpu.eaOff, os / 8));
  // LSS, unlike MOV SS and POP SS, opens no interrupt or #DB shadow (SDM Vol. 3A 6.8.3 names
  // only those two; QEMU's LSS sets no inhibit either): a 32-bit LSS loads ESP in the same
  // instruction, so there is no unsafe boundary to protect.
  cpu.loadSeg(seg, sel);
  cpu.hi = offHi;
  cpu.setReg(os, cpu.modReg, off);
}

/** Used by LSS/LFS/LGS in exec-0f.ts. */
export { loadFarPointer };

function enter(cpu: X86Cpu): void {
  const s = cpu.s;
  const os = cpu.opSize;
  const size = cpu.fetch16();
  const level = cpu.fetch8() & 31;
  const saved = s.gpr[Reg.ESP]!;
  try {
    cpu.push(os, cpu.getReg(os, Reg.EBP));
    const frame = cpu.sp;
    let bp = cpu.ss32 ? s.gpr[Reg.EBP]! >>> 0 : s.gpr[Reg.EBP]! & 0xffff;
    const mask = cpu.ss32 ? 0xffffffff : 0xffff;
    for (let i = 1; i < level; i++) {
      bp = ((bp - os / 8) & mask) >>> 0;
      cpu.push(os, cpu.readSized(os, SegReg.SS, bp));
    }
    if (level > 0) cpu.push(os, frame);
    // The final stack space must be writable (SDM ENTER checks it).
    const nsp = ((cpu.sp - size) & mask) >>> 0;
    if (size > 0) cpu.segAddr(SegReg.SS, nsp, 1, true);
    cpu.setReg(os, Reg.EBP, frame);
    cpu.setSp(nsp);
  } catch (e) {
    s.gpr[Reg.ESP] = saved;
    throw e;
  }
}

function softwareInterrupt(cpu: X86Cpu, vector: number, kind: EventKind): void {
  deliverEvent(cpu, vector, kind, false, 0);
}

function group3(cpu: X86Cpu, size: number): void {
  cpu.decodeModrm();
  const r = cpu.modOp;
  switch (r) {
    case 0: case 1: // TEST Eb/Ev, imm
      alu(cpu, AluOp.And, size, cpu.readRm(size), cpu.fetchImm(size));
      return;
    case 2: cpu.writeRm(size, ~cpu.readRm(size) & maskOf(size)); return; // NOT: no flags
    case 3: cpu.writeRm(size, neg(cpu, size, cpu.readRm(size))); return;
    case 4: mulAcc(cpu, size, cpu.readRm(size)); return;
    case 5: imulAcc(cpu, size, cpu.readRm(size)); return;
    case 6: divAcc(cpu, size, cpu.readRm(size)); return;
    default: idivAcc(cpu, size, cpu.readRm(size)); return;
  }
}

function group5(cpu: X86Cpu, os: number): void {
  const s = cpu.s;
  cpu.decodeModrm();
  const r = cpu.modOp;
  switch (r) {
    case 0: cpu.writeRm(os, inc(cpu, os, cpu.readRm(os))); return;
    case 1: cpu.writeRm(os, dec(cpu, os, cpu.readRm(os))); return;
    case 2: { // CALL Ev
      const target = cpu.readRm(os);
      cpu.push(os, s.eip);
      setIp(cpu, target);
      return;
    }
    case 3: case 5: { // CALL/JMP Mp (far, indirect)
      if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      const off = cpu.readSized(os, cpu.eaSeg, cpu.eaOff);
      const sel = cpu.read16(cpu.eaSeg, (cpu.eaOff + os / 8) >>> 0);
      if (r === 3) callFar(cpu, sel, off);
      else jmpFar(cpu, sel, off);
      return;
    }
    case 4: setIp(cpu, cpu.readRm(os)); return; // JMP Ev
    case 6: cpu.push(os, cpu.readRm(os)); return; // PUSH Ev
    default: cpu.raise(Vec.UD);
  }
}


// ---- The commonest instructions, each in a small function of its own: the engine inlines
// the decoder and operand accessors into a small function, not into the big switch above. ----

/** 00-38 (even) / 01-39 (odd): ALU Eb,Gb / Ev,Gv. */
function aluEG(cpu: X86Cpu, op: number): void {
  const size = op & 1 ? cpu.opSize : 8;
  const aop = op >> 3;
  cpu.decodeModrm();
  if (size === 32) {
    const r = alu(cpu, aop, 32, cpu.readRm32(), cpu.s.gpr[cpu.modReg]! >>> 0);
    if (aop !== AluOp.Cmp) cpu.writeRm32(r);
    return;
  }
  const r = alu(cpu, aop, size, cpu.readRm(size), cpu.getReg(size, cpu.modReg));
  if (aop !== AluOp.Cmp) cpu.writeRm(size, r);
}

/** 02-3A / 03-3B: ALU Gb,Eb / Gv,Ev. */
function aluGE(cpu: X86Cpu, op: number): void {
  const size = op & 1 ? cpu.opSize : 8;
  const aop = op >> 3;
  cpu.decodeModrm();
  const reg = cpu.modReg;
  const r = size === 32 ? alu(cpu, aop, 32, cpu.getReg(32, reg), cpu.readRm32()) : alu(cpu, aop, size, cpu.getReg(size, reg), cpu.readRm(size));
  if (aop !== AluOp.Cmp) cpu.setReg(size, reg, r);
}

/** 04-3C / 05-3D: ALU AL,Ib / eAX,Iv. */
function aluAccImm(cpu: X86Cpu, op: number): void {
  const size = op & 1 ? cpu.opSize : 8;
  const aop = op >> 3;
  const imm = cpu.fetchImm(size);
  const r = alu(cpu, aop, size, cpu.getReg(size, Reg.EAX), imm);
  if (aop !== AluOp.Cmp) cpu.setReg(size, Reg.EAX, r);
}

/** 40-4F: INC/DEC r16/r32. */
function incDecReg(cpu: X86Cpu, op: number): void {
  const os = cpu.opSize;
  const r = op & 7;
  const a = cpu.getReg(os, r);
  cpu.setReg(os, r, op < 0x48 ? inc(cpu, os, a) : dec(cpu, os, a));
}

function pushReg(cpu: X86Cpu, r: number): void {
  const os = cpu.opSize;
  cpu.push(os, cpu.getReg(os, r));
}

function popReg(cpu: X86Cpu, r: number): void {
  const os = cpu.opSize;
  const v = cpu.pop(os);
  cpu.setReg(os, r, v);
}

/** 70-7F: Jcc rel8. */
function jccShort(cpu: X86Cpu, op: number): void {
  const rel = (cpu.fetch8() << 24) >> 24;
  if (cpu.condition(op & 0xf)) jumpRel(cpu, rel);
}

/** 80/82: group 1 Eb,Ib. */
function group1b(cpu: X86Cpu): void {
  cpu.decodeModrm();
  const aop = cpu.modOp;
  const a = cpu.readRm(8);
  const r = alu(cpu, aop, 8, a, cpu.fetch8());
  if (aop !== AluOp.Cmp) cpu.writeRm(8, r);
}

/** 81/83: group 1 Ev,Iv / Ev,Ib (sign-extended). */
function group1v(cpu: X86Cpu, op: number): void {
  const size = cpu.opSize;
  cpu.decodeModrm();
  const aop = cpu.modOp;
  const a = cpu.readRm(size);
  const imm = op === 0x81 ? cpu.fetchImm(size) : signExtend(cpu.fetch8(), 8) & maskOf(size);
  const r = alu(cpu, aop, size, a, imm);
  if (aop !== AluOp.Cmp) cpu.writeRm(size, r);
}

/** 84/85: TEST Eb,Gb / Ev,Gv. */
function testEG(cpu: X86Cpu, size: number): void {
  cpu.decodeModrm();
  alu(cpu, AluOp.And, size, cpu.readRm(size), cpu.getReg(size, cpu.modReg));
}

function movEbGb(cpu: X86Cpu): void {
  cpu.decodeModrm();
  cpu.writeRm(8, cpu.reg8(cpu.modReg));
}

function movEvGv(cpu: X86Cpu): void {
  const os = cpu.opSize;
  cpu.decodeModrm();
  if (os === 32) cpu.writeRm32(cpu.s.gpr[cpu.modReg]!);
  else cpu.writeRm(os, cpu.getReg(os, cpu.modReg));
}

function movGbEb(cpu: X86Cpu): void {
  cpu.decodeModrm();
  cpu.setReg8(cpu.modReg, cpu.readRm(8));
}

function movGvEv(cpu: X86Cpu): void {
  const os = cpu.opSize;
  cpu.decodeModrm();
  cpu.setReg(os, cpu.modReg, os === 32 ? cpu.readRm32() : cpu.readRm(os));
}

/** 8D: LEA Gv, M. */
function lea(cpu: X86Cpu): void {
  cpu.decodeModrm();
  if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
  // In 64-bit mode eaLo is the exact low half even of a non-canonical address.
  cpu.setReg(cpu.opSize, cpu.modReg, cpu.mode64 ? cpu.eaLo : cpu.eaOff);
}

/** B8-BF: MOV r, imm. */
function movRegImm(cpu: X86Cpu, r: number): void {
  const os = cpu.opSize;
  cpu.setReg(os, r, cpu.fetchImm(os));
}

/** C0/C1/D0-D3: group 2 shifts and rotates by imm8, 1 or CL. */
function group2(cpu: X86Cpu, op: number): void {
  const size = op & 1 ? cpu.opSize : 8;
  cpu.decodeModrm();
  const a = cpu.readRm(size);
  const count = (op <= 0xc1 ? cpu.fetch8() : op <= 0xd1 ? 1 : cpu.s.gpr[Reg.ECX]!) & 0x1f;
  cpu.writeRm(size, shift(cpu, cpu.modOp, size, a, count));
}

/** C3: RET. */
function retNear(cpu: X86Cpu): void {
  setIp(cpu, cpu.pop(cpu.opSize));
}

/** E8: CALL rel16/32. */
function callRel(cpu: X86Cpu): void {
  const os = cpu.opSize;
  const rel = cpu.fetchImm(os);
  cpu.push(os, cpu.s.eip);
  jumpRel(cpu, os === 16 ? signExtend(rel, 16) : rel | 0);
}

/** E9: JMP rel16/32. */
function jmpRel(cpu: X86Cpu): void {
  const os = cpu.opSize;
  const rel = cpu.fetchImm(os);
  jumpRel(cpu, os === 16 ? signExtend(rel, 16) : rel | 0);
}

/** EB: JMP rel8. */
function jmpShort(cpu: X86Cpu): void {
  jumpRel(cpu, (cpu.fetch8() << 24) >> 24);
}

/**
 * The one-byte map as a table for step()'s dispatch (outside 64-bit mode): the commonest
 * opcodes go straight to their handler, saving the call through the big switch; every other
 * entry is execPrimary itself.
 */
export const PRIMARY_HANDLERS: OpHandler[] = new Array<OpHandler>(256).fill(execPrimary);
function setHandler(ops: readonly number[], h: OpHandler): void {
  for (const op of ops) PRIMARY_HANDLERS[op] = h;
}
setHandler([0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39], aluEG);
setHandler([0x02, 0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x03, 0x0b, 0x13, 0x1b, 0x23, 0x2b, 0x33, 0x3b], aluGE);
setHandler([0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x05, 0x0d, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d], aluAccImm);
for (let op = 0x40; op < 0x50; op++) PRIMARY_HANDLERS[op] = incDecReg;
for (let op = 0x50; op < 0x58; op++) PRIMARY_HANDLERS[op] = (cpu) => pushReg(cpu, op & 7);
for (let op = 0x58; op < 0x60; op++) PRIMARY_HANDLERS[op] = (cpu) => popReg(cpu, op & 7);
for (let op = 0x70; op < 0x80; op++) PRIMARY_HANDLERS[op] = jccShort;
setHandler([0x80, 0x82], group1b);
setHandler([0x81, 0x83], group1v);
setHandler([0x84, 0x85], (cpu, op) => testEG(cpu, op & 1 ? cpu.opSize : 8));
setHandler([0x88], movEbGb);
setHandler([0x89], movEvGv);
setHandler([0x8a], movGbEb);
setHandler([0x8b], movGvEv);
setHandler([0x8d], lea);
for (let op = 0xb8; op < 0xc0; op++) PRIMARY_HANDLERS[op] = (cpu) => movRegImm(cpu, op & 7);
setHandler([0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3], group2);
setHandler([0xc3], retNear);
setHandler([0xe8], callRel);
setHandler([0xe9], jmpRel);
setHandler([0xeb], jmpShort);
