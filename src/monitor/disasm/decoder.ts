/**
 * x86 instruction decoding for the monitor's disassembler: legacy and REX prefixes, the
 * ModRM/SIB addressing forms of 16-, 32- and 64-bit code (Intel SDM Vol. 2, 2.1-2.2, Tables
 * 2-1 to 2-3), immediates and relative targets, and the walk through the opcode maps
 * (opcode-tables.ts, x87-tables.ts, sse-tables.ts). The result is an Instruction whose
 * printing is att-syntax.ts's job.
 *
 * Anything the maps do not define, or bytes that run out mid-instruction, decode as `bad`
 * (QEMU's capstone prints those as `.byte 0xNN`, one byte at a time).
 */
import { GROUPS, GROUPS_0F, PRIMARY, SECONDARY, groupEntry, type OpEntry } from './opcode-tables.js';
import { x87Entry } from './x87-tables.js';
import { sseEntry } from './sse-tables.js';
import { Mode, type Instruction, type Operand } from './operands.js';

const REG8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const REG8_REX = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const REG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const REG64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const SEG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
/** 16-bit ModRM memory forms (SDM Table 2-1): base and index of rm 0-7. */
const MEM16: [string | undefined, string | undefined][] = [
  ['bx', 'si'], ['bx', 'di'], ['bp', 'si'], ['bp', 'di'], ['si', undefined], ['di', undefined], ['bp', undefined], ['bx', undefined],
];

class OutOfBytes extends Error {}

/** A cursor over the instruction's bytes with the prefix state. */
export class DecodeState {
  pos = 0;
  opsize: 16 | 32 | 64;
  adsize: 16 | 32 | 64;
  seg: string | undefined;
  rep: 'rep' | 'repne' | undefined;
  lock = false;
  opsizePrefix = false;
  rex = 0;
  /** The last mandatory-prefix candidate seen (0x66, 0xF2, 0xF3) for the SSE maps. */
  mandatory = 0;
  modrmByte = -1;

  constructor(readonly bytes: Uint8Array, readonly addr: bigint, readonly mode: Mode) {
    this.opsize = mode === Mode.Real16 ? 16 : 32;
    this.adsize = mode === Mode.Real16 ? 16 : mode === Mode.Prot32 ? 32 : 64;
  }

  byte(): number {
    if (this.pos >= this.bytes.length || this.pos >= 15) throw new OutOfBytes();
    return this.bytes[this.pos++]!;
  }

  peek(): number {
    if (this.pos >= this.bytes.length) throw new OutOfBytes();
    return this.bytes[this.pos]!;
  }

  /** A little-endian immediate of `n` bytes, sign-extended when `signed`. */
  imm(n: number, signed: boolean): bigint {
    let v = 0n;
    for (let i = 0; i < n; i++) v |= BigInt(this.byte()) << BigInt(8 * i);
    return signed ? BigInt.asIntN(n * 8, v) : v;
  }

  get modrm(): number {
    if (this.modrmByte < 0) this.modrmByte = this.byte();
    return this.modrmByte;
  }

  get mod(): number {
    return this.modrm >> 6;
  }

  get regField(): number {
    return (this.modrm >> 3) & 7;
  }

  get rexW(): boolean {
    return (this.rex & 8) !== 0;
  }

  gpr(n: number, size: number): string {
    if (size === 8) return this.rex ? REG8_REX[n]! : REG8[n]!;
    if (size === 16) return REG16[n]!;
    if (size === 32) return REG32[n]!;
    return REG64[n]!;
  }

  /** The ModRM r/m operand as memory (the caller checked mod != 3). */
  memory(): Operand {
    const modrm = this.modrm;
    const mod = modrm >> 6;
    const rm = modrm & 7;
    if (this.adsize === 16) {
      if (mod === 0 && rm === 6) return { kind: 'mem', seg: this.seg, base: undefined, index: undefined, scale: 1, disp: this.imm(2, false), hasDisp: true };
      const [base, index] = MEM16[rm]!;
      const disp = mod === 1 ? this.imm(1, true) : mod === 2 ? this.imm(2, true) : 0n;
      return { kind: 'mem', seg: this.seg, base, index, scale: 1, disp, hasDisp: mod !== 0 };
    }
    const regs = this.adsize === 64 ? REG64 : REG32;
    const rexB = this.rex & 1 ? 8 : 0;
    const rexX = this.rex & 2 ? 8 : 0;
    let base: string | undefined;
    let index: string | undefined;
    let scale = 1;
    let disp = 0n;
    let hasDisp = mod !== 0;
    if (rm === 4) {
      const sib = this.byte();
      scale = 1 << (sib >> 6);
      const idx = ((sib >> 3) & 7) | rexX;
      if (idx !== 4) index = regs[idx];
      const b = sib & 7;
      if (b === 5 && mod === 0) {
        disp = this.imm(4, true);
        hasDisp = true;
      } else base = regs[b | rexB];
      if (index === undefined && (sib >> 6) !== 0) scale = 1 << (sib >> 6);
    } else if (rm === 5 && mod === 0) {
      disp = this.imm(4, true);
      hasDisp = true;
      if (this.mode === Mode.Long64) base = this.adsize === 64 ? 'rip' : 'eip';
    } else base = regs[rm | rexB];
    if (mod === 1) disp = this.imm(1, true);
    else if (mod === 2) disp = this.imm(4, true);
    return { kind: 'mem', seg: this.seg, base, index, scale, disp, hasDisp };
  }
}

/** The operand size a size letter selects. */
function sizeOf(st: DecodeState, letter: string): number {
  switch (letter) {
    case 'b': return 8;
    case 'w': return 16;
    case 'd': return 32;
    case 'q': return 64;
    case 'v': return st.opsize;
    case 'z': return st.opsize === 16 ? 16 : 32;
    case 'y': return st.opsize === 64 ? 64 : 32;
    default: return st.opsize;
  }
}

/** Decodes one operand code of an opcode-table entry. */
function operand(st: DecodeState, code: string, opcode: number): Operand | undefined {
  const star = code.startsWith('*');
  if (star) code = code.slice(1);
  const rexR = st.rex & 4 ? 8 : 0;
  const rexB = st.rex & 1 ? 8 : 0;
  switch (code) {
    case 'al': case 'cl': case 'dx': return { kind: 'reg', name: code };
    case 'one': return { kind: 'imm', value: 1n };
    case 'es': case 'cs': case 'ss': case 'ds': case 'fs': case 'gs': return { kind: 'reg', name: code };
    case 'eAX': return { kind: 'reg', name: st.gpr(0, st.opsize) };
    case 'eAXz': return { kind: 'reg', name: st.gpr(0, st.opsize === 16 ? 16 : 32) };
    case 'Zb': return { kind: 'reg', name: st.gpr((opcode & 7) | rexB, 8) };
    case 'Zv': return { kind: 'reg', name: st.gpr((opcode & 7) | rexB, st.opsize) };
    case 'Zy': return { kind: 'reg', name: st.gpr((opcode & 7) | rexB, st.opsize) };
    case 'Sw': {
      const s = SEG[st.regField];
      return s ? { kind: 'reg', name: s } : undefined;
    }
    case 'Cd': return { kind: 'reg', name: `cr${st.regField | rexR}` };
    case 'Dd': return { kind: 'reg', name: `dr${st.regField | rexR}` };
    case 'Ry': return { kind: 'reg', name: st.gpr((st.modrm & 7) | rexB, st.mode === Mode.Long64 ? 64 : 32) };
    case 'M': case 'Mp':
      if (st.mod === 3) return undefined;
      return st.memory();
    case 'Ib': return { kind: 'imm', value: st.imm(1, false) };
    case 'Ib10': {
      // AAM/AAD print their base only when it is not the default 10.
      const v = st.imm(1, false);
      return v === 10n ? { kind: 'none' } as unknown as Operand : { kind: 'imm', value: v };
    }
    case 'Iw': return { kind: 'imm', value: st.imm(2, false) };
    case 'Ibs': return { kind: 'imm', value: st.imm(1, true) };
    case 'Iz':
      if (st.opsize === 16) return { kind: 'imm', value: st.imm(2, false) };
      return { kind: 'imm', value: st.imm(4, st.opsize === 64) };
    case 'Iv': return { kind: 'imm', value: st.imm(st.opsize / 8, false) };
    case 'Jb': case 'Jz': {
      const n = code === 'Jb' ? 1 : st.opsize === 16 ? 2 : 4;
      const rel = st.imm(n, true);
      const next = st.addr + BigInt(st.pos);
      // capstone wraps targets at the mode's width (not the operand size's).
      const width = st.mode;
      return { kind: 'rel', target: BigInt.asUintN(width, next + rel) };
    }
    case 'Ob': case 'Ov': {
      const disp = st.imm(st.adsize / 8, false);
      return { kind: 'mem', seg: st.seg, base: undefined, index: undefined, scale: 1, disp, hasDisp: true };
    }
    case 'Ap': {
      const offset = st.imm(st.opsize === 16 ? 2 : 4, false);
      return { kind: 'far', seg: Number(st.imm(2, false)), offset };
    }
    case 'Xb': case 'Xv': case 'Xz': {
      const r = st.gpr(6, st.adsize);
      return { kind: 'mem', seg: st.seg, base: r, index: undefined, scale: 1, disp: 0n, hasDisp: false };
    }
    case 'Yb': case 'Yv': case 'Yz':
      // ES is implied; capstone names it outside 64-bit mode, where segments are flat.
      return { kind: 'mem', seg: st.mode === Mode.Long64 ? undefined : 'es', base: st.gpr(7, st.adsize), index: undefined, scale: 1, disp: 0n, hasDisp: false };
    default: break;
  }
  const kind = code[0]!;
  const size = sizeOf(st, code.slice(1));
  if (kind === 'G') return { kind: 'reg', name: st.gpr(st.regField | rexR, size) };
  if (kind === 'E') return st.mod === 3 ? { kind: 'reg', name: st.gpr((st.modrm & 7) | rexB, size) } : st.memory();
  throw new Error(`disassembler table: unknown operand code ${code}`);
}

/** Applies the entry's mode flags and operand-size rules; false when it is invalid here. */
function applyFlags(st: DecodeState, e: OpEntry): boolean {
  const long = st.mode === Mode.Long64;
  if (long && e.flags.includes('i64')) return false;
  if (!long && e.flags.includes('o64')) return false;
  if (long && e.flags.includes('d64') && !st.opsizePrefix) st.opsize = 64;
  return true;
}

const SUFFIX: Record<number, string> = { 8: 'b', 16: 'w', 32: 'l', 64: 'q' };

/** The operand size an entry's suffix reflects (the first sized operand). */
function suffixSize(st: DecodeState, e: OpEntry): number {
  for (const o of e.operands) {
    const c = o.replace('*', '');
    if (/^[EG]b$|^Zb$|^al$|^[XY]b$|^Ob$/.test(c)) return 8;
    if (/^Ew$|^Gw$|^Sw$/.test(c) && e.operands.length === 1) return 16;
  }
  if (e.operands.includes('Ry')) return st.mode === Mode.Long64 ? 64 : 32;
  if (e.operands.includes('Zy')) return st.opsize === 64 ? 64 : 32;
  if (e.operands.some((o) => o === 'eAXz' || /^[XY]z$/.test(o))) return st.opsize === 16 ? 16 : 32;
  return st.opsize;
}

function decodeEntry(st: DecodeState, e: OpEntry, opcode: number, stem?: string): Instruction | undefined {
  if (!applyFlags(st, e)) return undefined;
  const operands: Operand[] = [];
  for (const code of e.operands) {
    const o = operand(st, code, opcode);
    if (!o) return undefined;
    if ((o.kind as string) !== 'none') operands.push(o);
  }
  let mnemonic = stem ?? e.mnemonic;
  if (mnemonic.includes('#')) mnemonic = mnemonic.replace('#', st.adsize === 16 ? '' : st.adsize === 32 ? 'e' : 'r');
  if (mnemonic.includes('|')) {
    const names = mnemonic.split('|');
    // XXX: capstone 4 prints CBW/CWD in 16-bit code with their 32-bit names; QEMU shows that.
    const size = st.mode === Mode.Real16 ? 32 : st.opsize;
    mnemonic = names[size === 16 ? 0 : size === 32 ? 1 : 2]!;
  } else if (e.flags.split(',').includes('s')) mnemonic += SUFFIX[suffixSize(st, e)]!;
  else if (e.flags.split(',').includes('w')) mnemonic += 'w';
  else if (e.flags === 'lq') mnemonic += st.rexW ? 'q' : 'l';
  // MOV from a segment register stores a word in memory whatever the operand size.
  // Segment registers, SLDT and STR move a word to or from memory whatever the operand size.
  if ((e.operands.includes('Sw') || /^(sldt|str)$/.test(e.mnemonic)) && st.mod !== 3) mnemonic = mnemonic.replace(/[lq]$/, 'w');
  // capstone: the hint NOPs are `nopl` even with REX.W.
  if (mnemonic === 'nopq') mnemonic = 'nopl';
  // ENTER's operands print in encoding order (AT&T does not reverse this pair).
  if (e.mnemonic === 'enter') operands.reverse();
  const indirect = e.operands.some((o) => o.startsWith('*'));
  return { length: st.pos, mnemonic: (indirect ? '*' : '') + mnemonic, operands };
}

function decodeBody(st: DecodeState): Instruction | undefined {
  // Prefixes (SDM 2.1.1): any number, in any order; REX must come last.
  for (;;) {
    const b = st.peek();
    if (st.mode === Mode.Long64 && (b & 0xf0) === 0x40) {
      // A REX prefix counts only when the opcode follows it; the last one wins.
      st.rex = b;
      st.pos++;
      continue;
    }
    if (st.rex) {
      if ([0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf0, 0xf2, 0xf3].includes(b)) st.rex = 0;
      else break;
    }
    if (b === 0x66) { st.opsizePrefix = true; st.mandatory = 0x66; }
    else if (b === 0x67) st.adsize = st.mode === Mode.Long64 ? 32 : st.mode === Mode.Prot32 ? 16 : 32;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) st.seg = SEG[(b >> 3) & 3];
    else if (b === 0x64) st.seg = 'fs';
    else if (b === 0x65) st.seg = 'gs';
    else if (b === 0xf0) st.lock = true;
    else if (b === 0xf2) { st.rep = 'repne'; st.mandatory = 0xf2; }
    else if (b === 0xf3) { st.rep = 'rep'; st.mandatory = 0xf3; }
    else break;
    st.pos++;
  }
  if (st.opsizePrefix) st.opsize = st.mode === Mode.Real16 ? 32 : 16;
  if (st.rexW) st.opsize = 64;
  const op = st.byte();
  if (op === 0x0f) return decodeTwoByte(st);
  if (op >= 0xd8 && op <= 0xdf) return x87Entry(st, op);
  const group = GROUPS[op];
  if (group) {
    const e = groupEntry(GROUPS, op, st.regField);
    return e ? decodeEntry(st, e, op) : undefined;
  }
  if (op === 0x90 && st.rep === 'rep') return { length: st.pos, mnemonic: 'pause', operands: [] };
  if (op === 0x90 && st.rex & 1) return decodeEntry(st, PRIMARY[0x91]!, op);
  if (op === 0x63 && st.mode === Mode.Long64) {
    // capstone prints MOVSXD as movslq with a 64-bit destination whatever REX.W says.
    st.opsize = 64;
    return decodeEntry(st, { mnemonic: 'movslq', operands: ['Gv', 'Ed'], flags: '' }, op);
  }
  const e = PRIMARY[op];
  if (!e) return undefined;
  const insn = decodeEntry(st, e, op);
  // 64-bit moffs and 64-bit immediates are MOVABS in AT&T syntax.
  if (insn && st.mode === Mode.Long64 && ((op >= 0xa0 && op <= 0xa3) || (op >= 0xb8 && st.opsize === 64))) insn.mnemonic = insn.mnemonic.replace(/^mov/, 'movabs');
  return insn;
}

function decodeTwoByte(st: DecodeState): Instruction | undefined {
  const op = st.byte();
  if (op === 0x01 && st.mod === 3) return systemGroup01(st);
  if (op === 0xae && st.mod === 3) {
    const fence = ({ 5: 'lfence', 6: 'mfence', 7: 'sfence' } as Record<number, string>)[st.regField];
    return fence ? { length: st.pos, mnemonic: fence, operands: [] } : undefined;
  }
  if (op === 0x1e && st.rep === 'rep' && (st.peek() === 0xfa || st.peek() === 0xfb)) {
    const name = st.byte() === 0xfb ? 'endbr32' : 'endbr64';
    return { length: st.pos, mnemonic: name, operands: [], sse: true } as Instruction;
  }
  const sse = sseEntry(st, op);
  if (sse !== null) return sse;
  if (GROUPS_0F[op]) {
    const e = groupEntry(GROUPS_0F, op, st.regField);
    if (!e) return undefined;
    if (op === 0xae || op === 0x00 || op === 0x01 || op === 0x18) {
      // Memory-only rows; 0F 00 takes registers too.
      if (st.mod === 3 && op !== 0x00) return undefined;
    }
    return decodeEntry(st, e, op);
  }
  const e = SECONDARY[op];
  if (!e) return undefined;
  if (op === 0xb6 || op === 0xb7 || op === 0xbe || op === 0xbf) {
    const r = decodeEntry(st, e, op, e.mnemonic);
    // A word source into a word register is still `movzwl` in capstone's tables.
    if (r) r.mnemonic = e.mnemonic + SUFFIX[(op & 1) && st.opsize === 16 ? 32 : st.opsize]!;
    return r;
  }
  if (op >= 0xc8 && op <= 0xcf) {
    // BSWAP: capstone names it bswapl even with a 16-bit register (66 prefix).
    const r = decodeEntry(st, e, op);
    if (r && st.opsize === 16) r.mnemonic = 'bswapl';
    return r;
  }
  return decodeEntry(st, e, op);
}

/** 0F 01 with a register ModRM: the instructions encoded in the rm field (SDM Table A-6). */
function systemGroup01(st: DecodeState): Instruction | undefined {
  const names: Record<number, string> = {
    0xc1: 'vmcall', 0xc2: 'vmlaunch', 0xc3: 'vmresume', 0xc4: 'vmxoff', 0xc8: 'monitor', 0xc9: 'mwait',
    0xca: 'clac', 0xcb: 'stac', 0xd0: 'xgetbv', 0xd1: 'xsetbv', 0xf8: 'swapgs', 0xf9: 'rdtscp',
  };
  const m = st.modrm;
  if (st.regField === 4) return decodeEntry(st, { mnemonic: 'smsw', operands: ['Ev'], flags: 's' }, 0x01);
  if (st.regField === 6) return decodeEntry(st, { mnemonic: 'lmsw', operands: ['Ew'], flags: 'w' }, 0x01);
  if (st.regField === 7 && (m & 7) === 0 && st.mode !== Mode.Long64) return undefined;
  const name = names[m];
  return name ? { length: st.pos, mnemonic: name, operands: [] } : undefined;
}

const STRING_OPS = /^(movs|cmps|stos|lods|scas|ins|outs)[bwlq]$/;
const BRANCHES = /^(j[a-z]+|call[wlq]?|ret[wlq]?|lret[wlq]|jmp[wlq]?|l?call[wlq]|l?jmp[wlq])$/;
const LOCKABLE = /^(add|adc|and|btc|btr|bts|cmpxchg|dec|inc|neg|not|or|sbb|sub|xor|xadd|xchg)[bwlq]$|^cmpxchg8b$|^cmpxchg16b$/;

/** LOCK is valid only on a read-modify-write instruction with a memory destination (SDM LOCK). */
function lockable(insn: Instruction): boolean {
  // capstone accepts LOCK on these with a memory operand on either side.
  return LOCKABLE.test(insn.mnemonic) && insn.operands.some((o) => o.kind === 'mem');
}

/** Decodes the instruction at the start of `bytes` (at most 15 used); `bad` when it is not one. */
export function decodeInstruction(bytes: Uint8Array, addr: bigint, mode: Mode): Instruction {
  const st = new DecodeState(bytes, addr, mode);
  let insn: Instruction | undefined;
  try {
    insn = decodeBody(st);
  } catch (e) {
    if (!(e instanceof OutOfBytes)) throw e;
    insn = undefined;
  }
  if (insn && st.lock && !lockable(insn)) insn = undefined;
  if (insn) insn.absWidth = st.adsize;
  if (!insn) return { length: 1, mnemonic: '.byte', operands: [{ kind: 'imm', value: BigInt(bytes[0] ?? 0) }], bad: true };
  const prefixes: string[] = [];
  if (st.lock) prefixes.push('lock');
  const stem = insn.mnemonic.replace('*', '');
  if (st.rep && STRING_OPS.test(stem)) {
    prefixes.push(/^(cmps|scas)/.test(stem) ? (st.rep === 'rep' ? 'repe' : 'repne') : st.rep);
  } else if (st.rep === 'repne' && BRANCHES.test(stem)) prefixes.push('bnd');
  if (prefixes.length) insn.mnemonic = `${prefixes.join(' ')} ${insn.mnemonic}`;
  return insn;
}

export { REG32, REG64, SEG };
