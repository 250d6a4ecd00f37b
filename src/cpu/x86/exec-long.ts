/**
 * Opcodes whose behaviour changes in 64-bit mode (SDM Vol. 2D Tables with the
 * "d64", "f64", "i64" and "o64" marks; Vol. 2A 2.2.1): 64-bit operand size with REX.W, the
 * 64-bit default operand size of stack and near-branch instructions, register numbers in the
 * opcode extended by REX.B, 64-bit addresses in string and moffs forms, MOVSXD, IRETQ.
 *
 * long-decode.ts routes here; everything that behaves as in 32-bit mode stays in
 * exec-primary.ts / exec-0f.ts. 64-bit values follow X86Cpu's convention: reads return the
 * low half and leave the high half in cpu.hi, writes at size 64 take it from there.
 */
import { AluOp, dec, inc, maskOf, signExtend } from './alu.js';
import {
  alu64, bitScan64, bswap64, dec64, divAcc64, doubleShift64, idivAcc64, imulAcc64, imulTrunc64, inc64, mulAcc64,
  neg64, shift64,
} from './alu64.js';
import { Fl, Reg, SegReg } from './state.js';
import { Vec } from './exceptions.js';
import { execPrimary, popf } from './exec-primary.js';
import { exec0f, writeCr } from './exec-0f.js';
import { vmxGroup9 } from './vmx/vmx-instructions.js';
import { stringOp, StrOp } from './string-ops.js';
import { farTransferLong, iretLong, retFarLong, syscall, sysret } from './long-control.js';
import { movCrLong, movDrLong } from './long-system.js';
import { Sensitive, type X86Cpu } from './cpu.js';
import type { AccessSize } from '../../memory/io-bus.js';

/** Operand size of d64 instructions (stack, near branches): 64, or 16 with a 66h prefix. */
function stackSize(cpu: X86Cpu): number {
  return cpu.prefix66 && !cpu.rexW ? 16 : 64;
}

/** Near jump by `rel` from the end of the instruction; #GP(0) if the target is not canonical. */
export function jumpRelLong(cpu: X86Cpu, rel: number): void {
  cpu.setRip(cpu.rip + rel);
}

/** Near transfer to the 64-bit target lo:hi (or a 16-bit one with a 66h prefix, zero-extended). */
function setRipFrom(cpu: X86Cpu, size: number, lo: number, hi: number): void {
  if (size === 16) cpu.setRip(lo & 0xffff);
  else cpu.setRip((hi | 0) * 4294967296 + (lo >>> 0));
}

/** Pushes the address of the next instruction (CALL). */
function pushRip(cpu: X86Cpu, size: number): void {
  cpu.hi = cpu.s.ripHi;
  cpu.push(size, cpu.s.eip >>> 0);
}

export function execLong(cpu: X86Cpu, op: number): void {
  const s = cpu.s;
  const os = cpu.opSize;
  switch (op) {
    // ---- ALU r/m64, r64 and r64, r/m64 and RAX, imm32 (REX.W) ----
    case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39: {
      const aop = op >> 3;
      cpu.decodeModrm();
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      const b = cpu.getReg(64, cpu.modReg);
      const r = alu64(cpu, aop, a, aHi, b, cpu.hi);
      if (aop !== AluOp.Cmp) cpu.writeRm(64, r);
      return;
    }
    case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b: {
      const aop = op >> 3;
      cpu.decodeModrm();
      const b = cpu.readRm(64);
      const bHi = cpu.hi;
      const reg = cpu.modReg;
      const a = cpu.getReg(64, reg);
      const r = alu64(cpu, aop, a, cpu.hi, b, bHi);
      if (aop !== AluOp.Cmp) cpu.setReg(64, reg, r);
      return;
    }
    case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d: {
      const aop = op >> 3;
      const b = cpu.fetchImm(64);
      const bHi = cpu.hi;
      const r = alu64(cpu, aop, s.gpr[Reg.EAX]!, s.gprHi[Reg.EAX]!, b, bHi);
      if (aop !== AluOp.Cmp) cpu.setReg(64, Reg.EAX, r);
      return;
    }
    case 0x0f: {
      const op2 = cpu.fetch8();
      cpu.opcode = 0x100 | op2;
      execLong0f(cpu, op2);
      return;
    }

    // ---- PUSH/POP r64 (REX.B extends the register) ----
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57: {
      const size = stackSize(cpu);
      cpu.push(size, cpu.getReg(size, (op & 7) | cpu.rexB));
      return;
    }
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const size = stackSize(cpu);
      const v = cpu.pop(size);
      cpu.setReg(size, (op & 7) | cpu.rexB, v);
      return;
    }
    case 0x63: { // MOVSXD r64, r/m32 (without REX.W a plain 32- or 16-bit move)
      cpu.decodeModrm();
      if (os === 64) {
        const v = cpu.readRm(32);
        cpu.setReg64(cpu.modReg, v, (v | 0) >> 31);
      } else {
        cpu.setReg(os, cpu.modReg, cpu.readRm(os));
      }
      return;
    }
    case 0x68: { // PUSH imm32 (sign-extended) / imm16
      const size = stackSize(cpu);
      cpu.push(size, cpu.fetchImm(size));
      return;
    }
    case 0x6a: {
      const size = stackSize(cpu);
      const v = signExtend(cpu.fetch8(), 8);
      cpu.hi = v >> 31;
      cpu.push(size, (v & maskOf(size === 64 ? 32 : size)) >>> 0);
      return;
    }
    case 0x69: case 0x6b: { // IMUL r64, r/m64, imm32/imm8
      cpu.decodeModrm();
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      let b: number;
      let bHi: number;
      if (op === 0x69) {
        b = cpu.fetchImm(64);
        bHi = cpu.hi;
      } else {
        b = signExtend(cpu.fetch8(), 8);
        bHi = b >> 31;
      }
      const r = imulTrunc64(cpu, a, aHi, b >>> 0, bHi);
      cpu.setReg(64, cpu.modReg, r);
      return;
    }
    // INS/OUTS: REX.W does not widen a port access.
    case 0x6c: stringOp(cpu, StrOp.Ins, 8); return;
    case 0x6d: stringOp(cpu, StrOp.Ins, os === 16 ? 16 : 32); return;
    case 0x6e: stringOp(cpu, StrOp.Outs, 8); return;
    case 0x6f: stringOp(cpu, StrOp.Outs, os === 16 ? 16 : 32); return;

    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const rel = (cpu.fetch8() << 24) >> 24;
      if (cpu.condition(op & 0xf)) jumpRelLong(cpu, rel);
      return;
    }

    case 0x81: case 0x83: { // Group 1 r/m64, imm32/imm8 (sign-extended)
      cpu.decodeModrm();
      const aop = cpu.modOp;
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      let b: number;
      let bHi: number;
      if (op === 0x81) {
        b = cpu.fetchImm(64);
        bHi = cpu.hi;
      } else {
        b = signExtend(cpu.fetch8(), 8);
        bHi = b >> 31;
      }
      const r = alu64(cpu, aop, a, aHi, b >>> 0, bHi);
      if (aop !== AluOp.Cmp) cpu.writeRm(64, r);
      return;
    }
    case 0x85: { // TEST r/m64, r64
      cpu.decodeModrm();
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      const b = cpu.getReg(64, cpu.modReg);
      alu64(cpu, AluOp.And, a, aHi, b, cpu.hi);
      return;
    }
    case 0x87: { // XCHG r/m64, r64
      cpu.decodeModrm();
      const reg = cpu.modReg;
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      cpu.writeRm(64, cpu.getReg(64, reg));
      cpu.setReg64(reg, a, aHi);
      return;
    }
    case 0x89: cpu.decodeModrm(); cpu.writeRm(64, cpu.getReg(64, cpu.modReg)); return;
    case 0x8b: cpu.decodeModrm(); cpu.setReg(64, cpu.modReg, cpu.readRm(64)); return;
    case 0x8c: { // MOV r64, Sreg (zero-extended) / MOV m16, Sreg
      cpu.decodeModrm();
      const sr = cpu.modOp;
      if (sr > 5) cpu.raise(Vec.UD);
      if (cpu.modrm >= 0xc0) cpu.setReg64(cpu.rmReg, s.segSel[sr]!, 0);
      else cpu.writeRm(16, s.segSel[sr]!);
      return;
    }
    case 0x8d: // LEA r64: the exact 64-bit effective address
      cpu.decodeModrm();
      if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      cpu.setReg64(cpu.modReg, cpu.eaLo, cpu.eaHi);
      return;
    case 0x8f: { // POP r/m64: RSP is incremented before the address is computed
      const size = stackSize(cpu);
      const v = cpu.peekStack(size, 0);
      const vHi = cpu.hi;
      const oldLo = s.gpr[Reg.ESP]!;
      const oldHi = s.gprHi[Reg.ESP]!;
      cpu.setSp(cpu.sp + size / 8);
      try {
        cpu.decodeModrm();
        if (cpu.modOp !== 0) cpu.raise(Vec.UD);
        cpu.hi = vHi;
        cpu.writeRm(size, v);
      } catch (e) {
        cpu.setReg64(Reg.ESP, oldLo, oldHi);
        throw e;
      }
      return;
    }

    case 0x90: // NOP, PAUSE; with REX.B XCHG R8, rAX
      if (!cpu.rexB) {
        if (cpu.repPrefix === 0xf3) cpu.intercept?.(cpu, Sensitive.Pause, 0);
        return;
      }
      xchgAcc(cpu, op);
      return;
    case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
      xchgAcc(cpu, op);
      return;
    case 0x98: // CDQE
      cpu.setReg64(Reg.EAX, s.gpr[Reg.EAX]!, s.gpr[Reg.EAX]! >> 31);
      return;
    case 0x99: { // CQO
      const sign = s.gprHi[Reg.EAX]! >> 31;
      cpu.setReg64(Reg.EDX, sign, sign);
      return;
    }
    case 0x9c: { // PUSHFQ (VM and RF read as zero)
      const size = stackSize(cpu);
      cpu.hi = 0;
      cpu.push(size, cpu.getEflags() & (size === 64 ? 0x00fcffff : 0xffff));
      return;
    }
    case 0x9d: { // POPFQ: the upper half of the popped value is ignored
      cpu.opSize = stackSize(cpu);
      popf(cpu);
      return;
    }

    // ---- MOV moffs: the offset has the address size (8 bytes, or 4 with 67h) ----
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      let off: number;
      if (cpu.adSize === 64) {
        const lo = cpu.fetch32();
        off = (cpu.fetch32() | 0) * 4294967296 + lo;
      } else {
        off = cpu.fetch32();
      }
      const size = op & 1 ? os : 8;
      if (op < 0xa2) {
        cpu.setReg(size, Reg.EAX, cpu.readSized(size, cpu.dataSeg, off));
      } else {
        const v = cpu.getReg(size, Reg.EAX);
        cpu.writeSized(size, cpu.dataSeg, off, v);
      }
      return;
    }
    case 0xa4: stringOp(cpu, StrOp.Movs, 8); return;
    case 0xa5: stringOp(cpu, StrOp.Movs, os); return;
    case 0xa6: stringOp(cpu, StrOp.Cmps, 8); return;
    case 0xa7: stringOp(cpu, StrOp.Cmps, os); return;
    case 0xa9: { // TEST RAX, imm32
      const b = cpu.fetchImm(64);
      alu64(cpu, AluOp.And, s.gpr[Reg.EAX]!, s.gprHi[Reg.EAX]!, b, cpu.hi);
      return;
    }
    case 0xaa: stringOp(cpu, StrOp.Stos, 8); return;
    case 0xab: stringOp(cpu, StrOp.Stos, os); return;
    case 0xac: stringOp(cpu, StrOp.Lods, 8); return;
    case 0xad: stringOp(cpu, StrOp.Lods, os); return;
    case 0xae: stringOp(cpu, StrOp.Scas, 8); return;
    case 0xaf: stringOp(cpu, StrOp.Scas, os); return;

    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      cpu.setReg8((op & 7) | cpu.rexB, cpu.fetch8());
      return;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      const r = (op & 7) | cpu.rexB;
      if (os === 64) { // MOV r64, imm64: the one full 64-bit immediate
        const lo = cpu.fetch32();
        cpu.setReg64(r, lo, cpu.fetch32() | 0);
      } else {
        cpu.setReg(os, r, cpu.fetchImm(os));
      }
      return;
    }

    case 0xc1: case 0xd1: case 0xd3: { // Group 2 r/m64
      cpu.decodeModrm();
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      const count = (op === 0xc1 ? cpu.fetch8() : op === 0xd1 ? 1 : s.gpr[Reg.ECX]!) & 0x3f;
      cpu.writeRm(64, shift64(cpu, cpu.modOp, a, aHi, count));
      return;
    }
    case 0xc2: case 0xc3: { // RET near [imm16]
      const n = op === 0xc2 ? cpu.fetch16() : 0;
      const size = stackSize(cpu);
      const lo = cpu.peekStack(size, 0);
      setRipFrom(cpu, size, lo, cpu.hi);
      cpu.setSp(cpu.sp + size / 8 + n);
      return;
    }
    case 0xc7: { // MOV r/m64, imm32 (sign-extended)
      cpu.decodeModrm();
      if (cpu.modOp !== 0) cpu.raise(Vec.UD);
      cpu.writeRm(64, cpu.fetchImm(64));
      return;
    }
    case 0xc8: enterLong(cpu); return;
    case 0xc9: { // LEAVE: RSP = RBP, pop RBP
      const size = stackSize(cpu);
      const rbp = cpu.reg64(Reg.EBP);
      const v = cpu.readSized(size, SegReg.SS, rbp);
      const vHi = cpu.hi;
      cpu.setSp(rbp + size / 8);
      cpu.hi = vHi;
      cpu.setReg(size, Reg.EBP, v);
      return;
    }
    case 0xca: retFarLong(cpu, os, cpu.fetch16()); return;
    case 0xcb: retFarLong(cpu, os, 0); return;
    case 0xcf: iretLong(cpu, os); return;
    case 0xd7: { // XLAT: AL = [rBX + AL]
      const off = cpu.adSize === 64 ? cpu.reg64(Reg.EBX) + cpu.reg8(0) : ((s.gpr[Reg.EBX]! >>> 0) + cpu.reg8(0)) >>> 0;
      cpu.setReg8(0, cpu.read8(cpu.dataSeg, off));
      return;
    }

    // ---- LOOP / JrCXZ: the counter is RCX (ECX with 67h) ----
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: {
      const rel = (cpu.fetch8() << 24) >> 24;
      const a64 = cpu.adSize === 64;
      let take: boolean;
      if (op === 0xe3) {
        take = a64 ? (s.gpr[Reg.ECX]! | s.gprHi[Reg.ECX]!) === 0 : s.gpr[Reg.ECX]! === 0;
      } else {
        let lo = s.gpr[Reg.ECX]! >>> 0;
        let hi = a64 ? s.gprHi[Reg.ECX]! : 0;
        if (lo === 0) hi = (hi - 1) | 0;
        lo = (lo - 1) >>> 0;
        cpu.setReg64(Reg.ECX, lo, hi);
        take = (lo | hi) !== 0 && (op === 0xe2 || (op === 0xe1 ? cpu.getZF() : !cpu.getZF()));
      }
      if (take) jumpRelLong(cpu, rel);
      return;
    }
    case 0xe5: cpu.setReg(32, Reg.EAX, cpu.portIn(cpu.fetch8(), 4)); return;
    case 0xe7: cpu.portOut(cpu.fetch8(), 4, s.gpr[Reg.EAX]! >>> 0); return;
    case 0xed: cpu.setReg(32, Reg.EAX, cpu.portIn(s.gpr[Reg.EDX]! & 0xffff, 4 as AccessSize)); return;
    case 0xef: cpu.portOut(s.gpr[Reg.EDX]! & 0xffff, 4, s.gpr[Reg.EAX]! >>> 0); return;
    case 0xe8: { // CALL rel32
      const rel = cpu.fetch32() | 0;
      const target = cpu.rip + rel;
      pushRip(cpu, 64);
      cpu.setRip(target);
      return;
    }
    case 0xe9: jumpRelLong(cpu, cpu.fetch32() | 0); return;
    case 0xeb: jumpRelLong(cpu, (cpu.fetch8() << 24) >> 24); return;
    case 0xf7: group3Long(cpu); return;
    case 0xff: group5Long(cpu); return;
    default:
      // The routing table sends only the opcodes above here.
      execPrimary(cpu, op);
  }
}

/** XCHG r, rAX (90+r with REX.B reaches R8-R15). */
function xchgAcc(cpu: X86Cpu, op: number): void {
  const os = cpu.opSize;
  const r = (op & 7) | cpu.rexB;
  const t = cpu.getReg(os, r);
  const tHi = cpu.hi;
  cpu.setReg(os, r, cpu.getReg(os, Reg.EAX));
  cpu.hi = tHi;
  cpu.setReg(os, Reg.EAX, t);
}

function enterLong(cpu: X86Cpu): void {
  const s = cpu.s;
  const size = stackSize(cpu);
  const bytes = size / 8;
  const alloc = cpu.fetch16();
  const level = cpu.fetch8() & 31;
  const oldLo = s.gpr[Reg.ESP]!;
  const oldHi = s.gprHi[Reg.ESP]!;
  try {
    cpu.push(size, cpu.getReg(size, Reg.EBP));
    const frame = cpu.sp;
    let bp = cpu.reg64(Reg.EBP);
    for (let i = 1; i < level; i++) {
      bp -= bytes;
      cpu.push(size, cpu.readSized(size, SegReg.SS, bp));
    }
    if (level > 0) {
      cpu.hi = Math.floor(frame / 4294967296) | 0;
      cpu.push(size, frame >>> 0);
    }
    const nsp = cpu.sp - alloc;
    if (alloc > 0) cpu.segAddr(SegReg.SS, nsp, 1, true);
    if (size === 64) cpu.setReg64From(Reg.EBP, frame);
    else cpu.setReg(16, Reg.EBP, frame);
    cpu.setSp(nsp);
  } catch (e) {
    cpu.setReg64(Reg.ESP, oldLo, oldHi);
    throw e;
  }
}

function group3Long(cpu: X86Cpu): void {
  cpu.decodeModrm();
  const a = cpu.readRm(64);
  const aHi = cpu.hi;
  switch (cpu.modOp) {
    case 0: case 1: { // TEST r/m64, imm32
      const b = cpu.fetchImm(64);
      alu64(cpu, AluOp.And, a, aHi, b, cpu.hi);
      return;
    }
    case 2: cpu.hi = ~aHi; cpu.writeRm(64, ~a >>> 0); return; // NOT
    case 3: cpu.writeRm(64, neg64(cpu, a, aHi)); return;
    case 4: mulAcc64(cpu, a, aHi); return;
    case 5: imulAcc64(cpu, a, aHi); return;
    case 6: divAcc64(cpu, a, aHi); return;
    default: idivAcc64(cpu, a, aHi); return;
  }
}

function group5Long(cpu: X86Cpu): void {
  const os = cpu.opSize;
  cpu.decodeModrm();
  const r = cpu.modOp;
  switch (r) {
    case 0: case 1: { // INC/DEC r/m16/32/64
      if (os !== 64) {
        const v = cpu.readRm(os);
        cpu.writeRm(os, r === 0 ? inc(cpu, os, v) : dec(cpu, os, v));
        return;
      }
      const a = cpu.readRm(64);
      cpu.writeRm(64, r === 0 ? inc64(cpu, a, cpu.hi) : dec64(cpu, a, cpu.hi));
      return;
    }
    case 2: { // CALL r/m64
      const size = stackSize(cpu);
      const lo = cpu.readRm(size);
      const hi = cpu.hi;
      pushRip(cpu, size);
      setRipFrom(cpu, size, lo, hi);
      return;
    }
    case 4: { // JMP r/m64
      const size = stackSize(cpu);
      const lo = cpu.readRm(size);
      setRipFrom(cpu, size, lo, cpu.hi);
      return;
    }
    case 3: case 5: { // CALL/JMP m16:16/32/64 (far, indirect)
      if (cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      const off = cpu.readSized(os, cpu.eaSeg, cpu.eaOff);
      const offHi = os === 64 ? cpu.hi : 0;
      const sel = cpu.read16(cpu.eaSeg, cpu.offsetAdd(cpu.eaOff, os / 8));
      farTransferLong(cpu, r === 3, sel, off, offHi);
      return;
    }
    case 6: { // PUSH r/m64
      const size = stackSize(cpu);
      cpu.push(size, cpu.readRm(size));
      return;
    }
    default: cpu.raise(Vec.UD);
  }
}

// =============================================================================================
// Two-byte map in 64-bit mode
// =============================================================================================

function execLong0f(cpu: X86Cpu, op: number): void {
  const s = cpu.s;
  const os = cpu.opSize;
  const w = os === 64;
  switch (op) {
    case 0x05: syscall(cpu); return;
    case 0x07: sysret(cpu); return;
    case 0x20: case 0x22: movCrLong(cpu, op === 0x22, writeCr); return;
    case 0x21: case 0x23: movDrLong(cpu, op === 0x23); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      if (!w) break;
      cpu.decodeModrm();
      const v = cpu.readRm(64);
      if (cpu.condition(op & 0xf)) cpu.setReg(64, cpu.modReg, v);
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      const rel = cpu.fetch32() | 0;
      if (cpu.condition(op & 0xf)) jumpRelLong(cpu, rel);
      return;
    }
    case 0xa0: case 0xa8: { // PUSH FS/GS
      const size = stackSize(cpu);
      cpu.hi = 0;
      cpu.push(size, s.segSel[op === 0xa0 ? SegReg.FS : SegReg.GS]!);
      return;
    }
    case 0xa1: case 0xa9: { // POP FS/GS
      const size = stackSize(cpu);
      const v = cpu.peekStack(size, 0) & 0xffff;
      cpu.loadSeg(op === 0xa1 ? SegReg.FS : SegReg.GS, v);
      cpu.setSp(cpu.sp + size / 8);
      return;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: if (!w) break; bitTest64(cpu, (op >> 3) & 3, false); return;
    case 0xba: if (!w) break; bitTest64(cpu, -1, true); return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD/SHRD r/m64
      if (!w) break;
      cpu.decodeModrm();
      const a = cpu.readRm(64);
      const aHi = cpu.hi;
      const count = op & 1 ? s.gpr[Reg.ECX]! & 63 : cpu.fetch8() & 63;
      const b = cpu.getReg(64, cpu.modReg);
      cpu.writeRm(64, doubleShift64(cpu, op < 0xa8, a, aHi, b, cpu.hi, count));
      return;
    }
    case 0xaf: { // IMUL r64, r/m64
      if (!w) break;
      cpu.decodeModrm();
      const b = cpu.readRm(64);
      const bHi = cpu.hi;
      const a = cpu.getReg(64, cpu.modReg);
      cpu.setReg(64, cpu.modReg, imulTrunc64(cpu, a, cpu.hi, b, bHi));
      return;
    }
    case 0xb1: { // CMPXCHG r/m64, r64
      if (!w) break;
      cpu.decodeModrm();
      const dst = cpu.readRm(64);
      const dstHi = cpu.hi;
      const acc = s.gpr[Reg.EAX]! >>> 0;
      const accHi = s.gprHi[Reg.EAX]!;
      alu64(cpu, AluOp.Cmp, acc, accHi, dst, dstHi);
      if (acc === dst && accHi === dstHi) {
        cpu.writeRm(64, cpu.getReg(64, cpu.modReg));
      } else {
        cpu.hi = dstHi;
        cpu.writeRm(64, dst);
        cpu.setReg64(Reg.EAX, dst, dstHi);
      }
      return;
    }
    case 0xb6: case 0xb7: { // MOVZX r64
      if (!w) break;
      cpu.decodeModrm();
      cpu.setReg64(cpu.modReg, cpu.readRm(op & 1 ? 16 : 8), 0);
      return;
    }
    case 0xbe: case 0xbf: { // MOVSX r64
      if (!w) break;
      const from = op & 1 ? 16 : 8;
      cpu.decodeModrm();
      const v = signExtend(cpu.readRm(from), from);
      cpu.setReg64(cpu.modReg, v, v >> 31);
      return;
    }
    case 0xbc: case 0xbd: { // BSF/BSR r64
      if (!w) break;
      cpu.decodeModrm();
      const lo = cpu.readRm(64);
      const hi = cpu.hi;
      cpu.materializeFlags();
      if ((lo | hi) === 0) {
        s.eflags |= Fl.ZF;
        return;
      }
      s.eflags &= ~Fl.ZF;
      cpu.setReg64(cpu.modReg, bitScan64(op === 0xbc, lo, hi), 0);
      return;
    }
    case 0xc1: { // XADD r/m64, r64
      if (!w) break;
      cpu.decodeModrm();
      const reg = cpu.modReg;
      const dst = cpu.readRm(64);
      const dstHi = cpu.hi;
      const src = cpu.getReg(64, reg);
      const sum = alu64(cpu, AluOp.Add, dst, dstHi, src, cpu.hi);
      cpu.writeRm(64, sum);
      cpu.setReg64(reg, dst, dstHi);
      return;
    }
    case 0xc7: { // Group 9: CMPXCHG16B with REX.W
      if (!w) break;
      cpu.decodeModrm();
      if (cpu.modOp >= 6) {
        vmxGroup9(cpu); // REX.W does not change the VMX pointer instructions
        return;
      }
      if (cpu.modOp !== 1 || cpu.modrm >= 0xc0) cpu.raise(Vec.UD);
      cmpxchg16b(cpu);
      return;
    }
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf: { // BSWAP
      const r = (op & 7) | cpu.rexB;
      if (w) {
        const lo = bswap64(cpu, s.gpr[r]!, s.gprHi[r]!);
        cpu.setReg64(r, lo, cpu.hi);
      } else if (os === 32) {
        const v = s.gpr[r]!;
        cpu.setReg32(r, ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24));
      } else {
        cpu.setReg(16, r, 0); // undefined; zeroed as in exec-0f.ts
      }
      return;
    }
    default:
      break;
  }
  exec0f(cpu, op);
}

/** CMPXCHG16B m128 (SDM Vol. 2A): #GP(0) unless 16-byte aligned. */
function cmpxchg16b(cpu: X86Cpu): void {
  const s = cpu.s;
  const g = s.gpr;
  const h = s.gprHi;
  if (cpu.eaOff % 16 !== 0) cpu.gp(0);
  const seg = cpu.eaSeg;
  const lo = cpu.read64(seg, cpu.eaOff);
  const loHi = cpu.hi;
  const hiOff = cpu.offsetAdd(cpu.eaOff, 8);
  const hi = cpu.read64(seg, hiOff);
  const hiHi = cpu.hi;
  cpu.materializeFlags();
  if (lo === g[Reg.EAX]! >>> 0 && loHi === h[Reg.EAX] && hi === g[Reg.EDX]! >>> 0 && hiHi === h[Reg.EDX]) {
    cpu.write64(seg, cpu.eaOff, g[Reg.EBX]!, h[Reg.EBX]!);
    cpu.write64(seg, hiOff, g[Reg.ECX]!, h[Reg.ECX]!);
    s.eflags |= Fl.ZF;
  } else {
    // The destination is written back with its own value (a locked cycle always writes).
    cpu.write64(seg, cpu.eaOff, lo, loHi);
    cpu.write64(seg, hiOff, hi, hiHi);
    cpu.setReg64(Reg.EAX, lo, loHi);
    cpu.setReg64(Reg.EDX, hi, hiHi);
    s.eflags &= ~Fl.ZF;
  }
}

/**
 * BT/BTS/BTR/BTC r/m64. `kind` 0 BT, 1 BTS, 2 BTR, 3 BTC, or -1 for 0F BA (kind from
 * ModRM.reg, imm8 offset). A register offset with a memory operand is a signed bit index
 * into a bit string (SDM BT), reaching whole quadwords away.
 */
function bitTest64(cpu: X86Cpu, kind: number, immediate: boolean): void {
  cpu.decodeModrm();
  let k = kind;
  let bit: number;
  if (immediate) {
    k = cpu.modOp - 4;
    if (k < 0) cpu.raise(Vec.UD);
    bit = cpu.fetch8() & 63;
  } else if (cpu.modrm >= 0xc0) {
    bit = cpu.s.gpr[cpu.modReg]! & 63;
  } else {
    const offset = cpu.reg64(cpu.modReg);
    cpu.eaOff = cpu.offsetAdd(cpu.eaOff, Math.floor(offset / 64) * 8);
    bit = ((offset % 64) + 64) % 64;
  }
  let lo = cpu.readRm(64);
  let hi = cpu.hi;
  const word = bit < 32 ? lo : hi;
  const mask = 1 << (bit & 31);
  const cf = word & mask ? 1 : 0;
  cpu.materializeFlags();
  cpu.s.eflags = (cpu.s.eflags & ~Fl.CF) | cf;
  if (k === 0) return;
  const nv = k === 1 ? word | mask : k === 2 ? word & ~mask : word ^ mask;
  if (bit < 32) lo = nv >>> 0;
  else hi = nv | 0;
  cpu.hi = hi;
  cpu.writeRm(64, lo);
}
