/**
 * Operands of a translated 64-bit-mode instruction as JavaScript source (SDM Vol. 2A 2.2.1):
 * registers R0-R15 through REX, byte registers (SPL..DIL with any REX, AH..BH without), the
 * ModRM/SIB memory operand with 64-bit addressing and RIP-relative forms, and the FS/GS
 * segment overrides (the others are ignored in 64-bit mode).
 *
 * The generated code sees `g` (s.gpr) and `h` (s.gprHi) as free variables, the memory
 * operand's offset as the local `ea`, and the LongAccess functions (long-memory.ts). Values
 * follow the interpreter's conventions: reads at 8/16/32 bits give unsigned numbers; a 64-bit
 * value is a pair of expressions, low half unsigned and high half int32; a 32-bit register
 * write zero-extends into the high half (SDM Vol. 1 3.4.1.1), 8- and 16-bit writes keep it.
 *
 * The offset is the interpreter's `eaOff` (decodeEaLong): the signed 64-bit effective address,
 * computed from exact halves whenever two registers are summed.
 */
import { SegReg } from '../state.js';
import { CANONICAL_LIMIT } from '../long-decode.js';
import { TLB_BITS, TLB_MASK } from '../tlb.js';
import type { CodeReader } from './code-reader.js';

/**
 * Stands in a RIP-relative offset for the RIP after the instruction (its end is known only
 * once its immediates are read); the block translator replaces it with the number.
 */
export const NEXT_RIP = '$nextRip$';

/**
 * An offset in a segment as translated code needs it: `num`, the signed 64-bit offset as a
 * number expression (the out-of-line accesses take it), and `halves`, a comma expression that
 * leaves its low and high int32 halves in the block's temporaries `ml` and `mh`, or '' where
 * only `num` is known. With the halves the inlined TLB test runs in int32 arithmetic; on a
 * miss `num` is computed then.
 */
export interface Offset {
  readonly num: string;
  readonly halves: string;
}

/**
 * Register `r` plus the constant `disp` (|disp| < 2^31) as an Offset: the low halves add in
 * int32, and the high half takes the carry (or borrow) out of them.
 */
export function regPlus(r: number, disp: number): Offset {
  const d = disp === 0 ? '' : disp > 0 ? ` + ${disp}` : ` - ${-disp}`;
  const carry = disp > 0 ? ` + ((ml >>> 0) < (g[${r}] >>> 0) ? 1 : 0)` : ` - ((ml >>> 0) > (g[${r}] >>> 0) ? 1 : 0)`;
  return {
    num: `(h[${r}] * 4294967296 + (g[${r}] >>> 0)${d})`,
    halves: `ml = (g[${r}]${d}) | 0, mh = ${disp === 0 ? `h[${r}]` : `(h[${r}]${carry}) | 0`}`,
  };
}

/** The decoded parts of one instruction that operand code needs. */
export class LongOperands {
  /** Operand size of the v-sized forms: 16, 32 or 64. */
  os = 32;
  prefix66 = false;
  /** The REX byte, or 0; rexR/rexX/rexB are 8 or 0 (as X86Cpu's). */
  rex = 0;
  rexR = 0;
  rexX = 0;
  rexB = 0;
  /** FS or GS override, or -1. */
  segOverride = -1;
  lock = false;
  /** ModRM byte, or -1 when the instruction has none. */
  modrm = -1;
  /** The memory operand's offset as an expression (empty for a register operand). */
  eaExpr = '';
  /** The exact halves of the effective address, for LEA: low (any integer) and high (int32) part before the carry. */
  eaLo = '';
  eaHi = '';
  /** The memory operand's segment (only FS/GS bases and the fault kind depend on it). */
  eaSeg: number = SegReg.DS;
  /**
   * The memory operand's offset for the access functions: where its int32 halves are known,
   * the number is computed only on a miss (each access repeats it); else `ea` (eaDecl).
   */
  at: Offset = { num: 'ea', halves: '' };

  constructor(
    /** TLB set of the CPL the block runs at. */
    readonly set: number,
  ) {}

  get rexW(): boolean {
    return (this.rex & 8) !== 0;
  }

  get isMem(): boolean {
    return this.modrm >= 0 && this.modrm < 0xc0;
  }

  /** ModRM.reg as an opcode extension (/digit). */
  get reg(): number {
    return (this.modrm >> 3) & 7;
  }

  /** ModRM.reg as a register number, extended by REX.R. */
  get regNum(): number {
    return ((this.modrm >> 3) & 7) | this.rexR;
  }

  /** ModRM.rm of a register operand, extended by REX.B. */
  get rmNum(): number {
    return (this.modrm & 7) | this.rexB;
  }

  /** The segment of an operand without ModRM (DS unless FS/GS overrides). */
  get dataSeg(): number {
    return this.segOverride >= 0 ? this.segOverride : SegReg.DS;
  }
}

/** Reads the ModRM byte (and SIB and displacement) for 64-bit addressing (SDM Tables 2-4, 2-5). */
export function decodeModrm64(r: CodeReader, o: LongOperands): void {
  const m = r.u8();
  o.modrm = m;
  o.eaExpr = '';
  if (m >= 0xc0) return;
  const mod = m >> 6;
  const rm = m & 7;
  let seg: number = SegReg.DS;
  let base = -1;
  let index = -1;
  let scale = 0;
  let disp = 0;
  let ripRelative = false;
  if (rm === 4) {
    const sib = r.u8();
    const b = (sib & 7) | o.rexB;
    const i = ((sib >> 3) & 7) | o.rexX;
    scale = sib >> 6;
    if (i !== 4) index = i;
    if ((b & 7) === 5 && mod === 0) {
      disp = r.u32() | 0;
    } else {
      base = b;
      if (b === 4 || b === 5) seg = SegReg.SS;
    }
  } else if (rm === 5 && mod === 0) {
    disp = r.u32() | 0;
    ripRelative = true;
  } else {
    base = rm | o.rexB;
    if (base === 5) seg = SegReg.SS;
  }
  if (mod === 1) disp += r.s8();
  else if (mod === 2) disp += r.u32() | 0;
  o.eaSeg = o.segOverride >= 0 ? o.segOverride : seg;
  const d = disp === 0 ? '' : disp > 0 ? ` + ${disp}` : ` - ${-disp}`;
  if (ripRelative) {
    // A constant once the instruction's end is known: RIP is canonical and |disp| < 2^31,
    // so the sum is exact and equals the interpreter's halves.
    o.eaExpr = `(${NEXT_RIP}${d})`;
    o.eaLo = o.eaExpr;
    o.eaHi = '0';
    o.at = { num: 'ea', halves: '' };
    return;
  }
  const lo: string[] = [];
  const hi: string[] = [];
  if (index >= 0) {
    lo.push(scale === 0 ? `(g[${index}] >>> 0)` : `(g[${index}] >>> 0) * ${1 << scale}`);
    hi.push(scale === 0 ? `h[${index}]` : `(h[${index}] << ${scale})`);
  }
  if (base >= 0) {
    lo.push(`(g[${base}] >>> 0)`);
    hi.push(`h[${base}]`);
  }
  if (lo.length === 0) {
    // disp32 alone, sign-extended.
    o.eaExpr = String(disp);
    o.eaLo = o.eaExpr;
    o.eaHi = '0';
    o.at = { num: 'ea', halves: '' };
    return;
  }
  o.eaLo = `(${lo.join(' + ')}${d})`;
  o.eaHi = hi.length === 1 ? hi[0]! : `((${hi.join(' + ')}) | 0)`;
  if (index < 0) {
    // One register (plus a displacement): the double sum is exact while the register is
    // below 2^53 in magnitude, and otherwise non-canonical either way, as the interpreter's.
    o.eaExpr = `(h[${base}] * 4294967296 + (g[${base}] >>> 0)${d})`;
    o.at = regPlus(base, disp);
  } else {
    o.eaExpr = `eaOf(${o.eaLo}, ${o.eaHi})`;
    // The low sum is exact in a double (below 2^36 in magnitude); its carry goes to the high half.
    o.at = { num: o.eaExpr, halves: `mt = ${o.eaLo}, ml = mt | 0, mh = (${o.eaHi} + Math.floor(mt / 4294967296)) | 0` };
  }
}

/** Reads register `r` (0-15) at 8, 16 or 32 bits. */
export function regRead(o: LongOperands, size: number, r: number): string {
  if (size === 32) return `(g[${r}] >>> 0)`;
  if (size === 16) return `(g[${r}] & 0xffff)`;
  return r < 4 || o.rex !== 0 ? `(g[${r}] & 0xff)` : `((g[${r - 4}] >> 8) & 0xff)`;
}

/** A statement writing `v` to register `r` at 8, 16 or 32 bits (32 zero-extends). */
export function regWrite(o: LongOperands, size: number, r: number, v: string): string {
  if (size === 32) return `g[${r}] = ${v}; h[${r}] = 0;`;
  if (size === 16) return `g[${r}] = (g[${r}] & -65536) | ((${v}) & 0xffff);`;
  if (r < 4 || o.rex !== 0) return `g[${r}] = (g[${r}] & -256) | ((${v}) & 0xff);`;
  return `g[${r - 4}] = (g[${r - 4}] & -65281) | (((${v}) & 0xff) << 8);`;
}

/** A statement writing the 64-bit value lo:hi to register `r`. */
export function regWrite64(r: number, lo: string, hi: string): string {
  return `g[${r}] = ${lo}; h[${r}] = ${hi};`;
}

/** 2^48: a negative canonical linear address plus this is its 48-bit form (the TLB's). */
const TWO_48 = 281474976710656;

/**
 * The inlined TLB hit of a `size`-bit access at offset `at` in `seg`, as a condition: the
 * test long-memory.ts's readIndex/writeIndex make (canonical, within its page, the tag of
 * the CPL's set, a RAM page; for a write a page without translated code), and for 32 and 64
 * bits a 4-byte-aligned RAM index. On true `mp` is the RAM index of the first byte (the
 * block's temporaries `ml`, `mh`, `mt`, `mo`, `mq`, `mi`, `mp`; TR, TW, RO, CP, RA from
 * compileBlock64). The test runs on the offset's int32 halves where they are known and not
 * moved by an FS/GS base, and on the double `num` otherwise.
 * A miss, a page crossing, MMIO, a code page or an unaligned dword takes the out-of-line
 * function, which does what the interpreter does.
 */
function tlbHit(o: LongOperands, size: number, seg: number, at: Offset, write: boolean): string {
  const bytes = size / 8;
  const tail = `(mp = RO[mi]) >= 0${write ? ' && CP[mp >>> 12] === 0' : ''} && ${size >= 32 ? '((mp += mo) & 3) === RA' : '(mp += mo) >= 0'}`;
  const tags = write ? 'TW' : 'TR';
  if (at.halves !== '' && seg < SegReg.FS) {
    // Canonical: the high half is the sign extension of its low 16 bits (bits 63..47 equal).
    // The tag is the 48-bit linear address >> (12 + TLB_BITS), from both halves.
    return `(${at.halves}, (mh << 16 >> 16) === mh) && (mo = ml & 4095) <= ${4096 - bytes} && ` +
      `${tags}[mi = ${o.set << TLB_BITS} | ((ml >>> 12) & ${TLB_MASK})] === (((mh & 0xffff) << ${20 - TLB_BITS}) | (ml >>> ${12 + TLB_BITS})) && ${tail}`;
  }
  const lin = seg >= SegReg.FS ? `${at.num} + s.segBase[${seg}]` : at.num;
  return `(ml = ${lin}) >= ${-CANONICAL_LIMIT} && ml <= ${CANONICAL_LIMIT - bytes} && (mo = ml & 4095) <= ${4096 - bytes} && ` +
    `${tags}[mi = ${o.set << TLB_BITS} | ((mq = ml < 0 ? ml + ${TWO_48} : ml) / 4096 & ${TLB_MASK})] === (mq / ${2 ** (12 + TLB_BITS)} | 0) && ${tail}`;
}

/** A read at 8, 16 or 32 bits of offset `at` (the operand's by default) in `seg`: the TLB hit inlined. */
export function memRead(o: LongOperands, size: number, seg: number, at = o.at): string {
  const load = size === 8 ? 'R8[mp]' : size === 16 ? '(R8[mp] | (R8[mp + 1] << 8))' : '(R32[mp >>> 2] >>> 0)';
  return `(${tlbHit(o, size, seg, at, false)} ? ${load} : rd${size}(${at.num}, ${o.set}, ${seg}))`;
}

/** A statement writing `v` at 8, 16 or 32 bits to offset `at` in `seg`: the TLB hit inlined. */
export function memWrite(o: LongOperands, size: number, seg: number, v: string, at = o.at): string {
  const store = size === 8 ? 'R8[mp] = wv;' : size === 16 ? 'R8[mp] = wv; R8[mp + 1] = wv >>> 8;' : 'R32[mp >>> 2] = wv;';
  return `{ const wv = ${v}; if (${tlbHit(o, size, seg, at, true)}) { ${store} } else wr${size}(${at.num}, ${o.set}, ${seg}, wv); }`;
}

/** Declares `name` and `nameHi` as the quadword at offset `at` in `seg` (temporaries mv, mw). */
export function memRead64(o: LongOperands, seg: number, name: string, at = o.at): string {
  return `const ${name} = (${tlbHit(o, 64, seg, at, false)} ? ` +
    `(mv = R32[(mp >>> 2) + 1], R32[mp >>> 2] >>> 0) : (mw = rd64(${at.num}, ${o.set}, ${seg}), mv = cpu.hi, mw)), ${name}Hi = mv; `;
}

/** A statement writing the quadword lo:hi to offset `at` in `seg`. */
export function memWrite64(o: LongOperands, seg: number, lo: string, hi: string, at = o.at): string {
  return `{ const wl = ${lo}, wh = ${hi}; if (${tlbHit(o, 64, seg, at, true)}) { R32[mp >>> 2] = wl; R32[(mp >>> 2) + 1] = wh; } ` +
    `else wr64(${at.num}, ${o.set}, ${seg}, wl, wh); }`;
}

/** The r/m operand read at 8, 16 or 32 bits. */
export function rmRead(o: LongOperands, size: number): string {
  return o.isMem ? memRead(o, size, o.eaSeg) : regRead(o, size, o.rmNum);
}

/** A statement writing the r/m operand at 8, 16 or 32 bits. */
export function rmWrite(o: LongOperands, size: number, v: string): string {
  return o.isMem ? memWrite(o, size, o.eaSeg, v) : regWrite(o, size, o.rmNum, v);
}

/** Declares `name` and `nameHi` as the 64-bit r/m operand. */
export function rmRead64(o: LongOperands, name: string): string {
  if (o.isMem) return memRead64(o, o.eaSeg, name);
  return `const ${name} = g[${o.rmNum}] >>> 0, ${name}Hi = h[${o.rmNum}]; `;
}

/** A statement writing lo:hi to the 64-bit r/m operand. */
export function rmWrite64(o: LongOperands, lo: string, hi: string): string {
  return o.isMem ? memWrite64(o, o.eaSeg, lo, hi) : regWrite64(o.rmNum, lo, hi);
}

/** Declares `ea` for a memory operand whose accesses use it (empty otherwise). */
export function eaDecl(o: LongOperands): string {
  return o.isMem && o.at.num === 'ea' ? `const ea = ${o.eaExpr}; ` : '';
}
