/**
 * Operands of a translated instruction as JavaScript source: registers, the ModRM memory
 * operand (32-bit addressing, SDM Vol. 2A 2.1.5) and its segment. The generated code sees
 * `cpu` (X86Cpu), `s` (its state) and `g` (s.gpr, an Int32Array) as free variables, and the
 * memory operand's offset as the local `ea`.
 *
 * Values follow the interpreter's conventions: register and memory reads give unsigned
 * numbers of the operand width; writes take any number whose low bits are the value.
 */
import { SegReg } from '../state.js';
import type { CodeReader } from './code-reader.js';
import { TLB_BITS, TLB_MASK } from '../tlb.js';

/**
 * How a block reaches memory: segments that were flat when it was translated go through the
 * FlatAccess functions (the block checks on entry that they still are), others through the
 * CPU's segmented accessors.
 */
export class BlockMemory {
  /** Segments used through the flat path (the entry check covers these). */
  used = 0;

  constructor(
    /** Bit k set: segment register k was flat at translation time. */
    readonly flatMask: number,
    /** TLB set of the CPL the block runs at (0 supervisor, 1 user). */
    readonly tlbSet: number,
    /** SS.B. */
    readonly ss32: boolean,
  ) {}

  flat(seg: number): boolean {
    if ((this.flatMask & (1 << seg)) === 0) return false;
    this.used |= 1 << seg;
    return true;
  }
}

/** The decoded parts of one instruction that operand code needs. */
export class InsnOperands {
  /** Operand size of the v-sized forms: 16 or 32. */
  os = 32;
  /** REP/REPE (0xF3) or REPNE (0xF2) prefix, or 0. */
  rep = 0;
  /** Segment override prefix, or -1. */
  segOverride = -1;
  lock = false;
  /** ModRM byte, or -1 when the instruction has none. */
  modrm = -1;
  /** The memory operand's offset as an expression (empty for a register operand). */
  eaExpr = '';
  /** The memory operand's segment. */
  eaSeg: number = SegReg.DS;

  constructor(readonly mem: BlockMemory) {}

  get isMem(): boolean {
    return this.modrm >= 0 && this.modrm < 0xc0;
  }

  /** ModRM.reg: a register number or an opcode extension. */
  get reg(): number {
    return (this.modrm >> 3) & 7;
  }

  get rm(): number {
    return this.modrm & 7;
  }

  /** The segment of an explicit DS-relative operand (moffs). */
  get dataSeg(): number {
    return this.segOverride >= 0 ? this.segOverride : SegReg.DS;
  }
}

/** Reads the ModRM byte (and SIB and displacement) for 32-bit addressing. */
export function decodeModrm32(r: CodeReader, o: InsnOperands): void {
  const m = r.u8();
  o.modrm = m;
  o.eaExpr = '';
  if (m >= 0xc0) return;
  const mod = m >> 6;
  const rm = m & 7;
  const terms: string[] = [];
  let disp = 0;
  let seg: number = SegReg.DS;
  if (rm === 4) {
    const sib = r.u8();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    const scale = sib >> 6;
    if (index !== 4) terms.push(scale === 0 ? `g[${index}]` : `(g[${index}] << ${scale})`);
    if (base === 5 && mod === 0) {
      disp = r.u32() | 0;
    } else {
      terms.push(`g[${base}]`);
      if (base === 4 || base === 5) seg = SegReg.SS;
    }
  } else if (rm === 5 && mod === 0) {
    disp = r.u32() | 0;
  } else {
    terms.push(`g[${rm}]`);
    if (rm === 5) seg = SegReg.SS;
  }
  if (mod === 1) disp += r.s8();
  else if (mod === 2) disp += r.u32() | 0;
  if (terms.length === 0) {
    o.eaExpr = String(disp >>> 0);
  } else {
    if (disp !== 0) terms.push(String(disp));
    o.eaExpr = terms.length === 1 ? `(${terms[0]} >>> 0)` : `((${terms.join(' + ')}) >>> 0)`;
  }
  o.eaSeg = o.segOverride >= 0 ? o.segOverride : seg;
}

/** Reads register `r` at `size` bits (8: AL..BH). */
export function regRead(size: number, r: number): string {
  if (size === 32) return `(g[${r}] >>> 0)`;
  if (size === 16) return `(g[${r}] & 0xffff)`;
  return r < 4 ? `(g[${r}] & 0xff)` : `((g[${r - 4}] >> 8) & 0xff)`;
}

/** A statement writing `v` to register `r` at `size` bits (8- and 16-bit writes keep the rest). */
export function regWrite(size: number, r: number, v: string): string {
  if (size === 32) return `g[${r}] = ${v};`;
  if (size === 16) return `g[${r}] = (g[${r}] & -65536) | ((${v}) & 0xffff);`;
  if (r < 4) return `g[${r}] = (g[${r}] & -256) | ((${v}) & 0xff);`;
  return `g[${r - 4}] = (g[${r - 4}] & -65281) | (((${v}) & 0xff) << 8);`;
}

/**
 * A read at `size` bits of offset `ea` (an expression naming an unsigned 32-bit value: the
 * local `ea` by default) in `seg`. Through a flat segment the TLB hit on a RAM page is inlined
 * (the block's temporaries `mi`, `mp`; TR, RO, R8, R32, RA from compileBlock): the same test
 * as flat-memory.ts's readIndex, whose function takes every other case.
 */
export function memRead(m: BlockMemory, size: number, seg: number, ea = 'ea'): string {
  if (!m.flat(seg)) return `cpu.read${size}(${seg}, ${ea})`;
  const slow = `rd${size}(${ea}, ${m.tlbSet}, ${seg})`;
  const hit = `TR[mi = ${m.tlbSet << TLB_BITS} | ((${ea} >>> 12) & ${TLB_MASK})] === ${ea} >>> ${12 + TLB_BITS} && ` +
    `(${ea} & 4095) <= ${4096 - size / 8} && (mp = RO[mi]) >= 0`;
  let load: string;
  if (size === 8) load = `R8[mp + (${ea} & 4095)]`;
  else if (size === 16) load = `(mp += ${ea} & 4095, R8[mp] | (R8[mp + 1] << 8))`;
  else load = `(((mp += ${ea} & 4095) & 3) === RA ? R32[mp >>> 2] >>> 0 : (R8[mp] | (R8[mp + 1] << 8) | (R8[mp + 2] << 16) | (R8[mp + 3] << 24)) >>> 0)`;
  return `(${hit} ? ${load} : ${slow})`;
}

/**
 * A statement writing `v` at `size` bits to offset `ea` in `seg`; a flat segment's TLB hit on
 * a RAM page without translated code is inlined (flat-memory.ts's writeIndex takes the rest,
 * code pages included, so that self-modifying code is still seen).
 */
export function memWrite(m: BlockMemory, size: number, seg: number, v: string, ea = 'ea'): string {
  if (!m.flat(seg)) return `cpu.write${size}(${seg}, ${ea}, ${v});`;
  const hit = `TW[mi = ${m.tlbSet << TLB_BITS} | ((${ea} >>> 12) & ${TLB_MASK})] === ${ea} >>> ${12 + TLB_BITS} && ` +
    `(${ea} & 4095) <= ${4096 - size / 8} && (mp = RO[mi]) >= 0 && CP[mp >>> 12] === 0`;
  let store: string;
  if (size === 8) store = `R8[mp + (${ea} & 4095)] = wv;`;
  else if (size === 16) store = `mp += ${ea} & 4095; R8[mp] = wv; R8[mp + 1] = wv >>> 8;`;
  else store = `if (((mp += ${ea} & 4095) & 3) === RA) R32[mp >>> 2] = wv; else { R8[mp] = wv; R8[mp + 1] = wv >>> 8; R8[mp + 2] = wv >>> 16; R8[mp + 3] = wv >>> 24; }`;
  return `{ const wv = ${v}; if (${hit}) { ${store} } else wr${size}(${ea}, ${m.tlbSet}, ${seg}, wv); }`;
}

/** PUSH of `v` at `size` bits (16/32): X86Cpu.push. */
export function push(m: BlockMemory, size: number, v: string): string {
  if (!m.ss32 || !m.flat(SegReg.SS)) return `cpu.push(${size}, ${v});`;
  return `{ const sp = (g[4] - ${size / 8}) >>> 0; ${memWrite(m, size, SegReg.SS, v, 'sp')} g[4] = sp; }`;
}

/** POP at `size` bits as an expression (X86Cpu.pop; ESP moves after the read). */
export function pop(m: BlockMemory, size: number): string {
  if (!m.ss32 || !m.flat(SegReg.SS)) return `cpu.pop(${size})`;
  // X86Cpu.pop: the read first, then ESP moves (temporaries ms, mv).
  return `(ms = g[4] >>> 0, mv = ${memRead(m, size, SegReg.SS, 'ms')}, g[4] = ms + ${size / 8}, mv)`;
}

/** The r/m operand read at `size` bits. */
export function rmRead(o: InsnOperands, size: number): string {
  return o.isMem ? memRead(o.mem, size, o.eaSeg) : regRead(size, o.rm);
}

/** A statement writing the r/m operand at `size` bits. */
export function rmWrite(o: InsnOperands, size: number, v: string): string {
  return o.isMem ? memWrite(o.mem, size, o.eaSeg, v) : regWrite(size, o.rm, v);
}

/** Declares `ea` for a memory operand (empty for a register operand). */
export function eaDecl(o: InsnOperands): string {
  return o.isMem ? `const ea = ${o.eaExpr}; ` : '';
}

export function maskOfSize(size: number): number {
  return size === 32 ? 0xffffffff : size === 16 ? 0xffff : 0xff;
}

/** `v` as a signed number of `size` bits (compile-time). */
export function signExtendConst(v: number, size: number): number {
  return size === 32 ? v | 0 : size === 16 ? (v << 16) >> 16 : (v << 24) >> 24;
}
