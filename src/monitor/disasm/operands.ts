/**
 * The decoded form of one x86 instruction, between the decoder (decoder.ts) and the AT&T
 * printer (att-syntax.ts): a mnemonic stem, an operand size for the suffix, and operands in
 * Intel order (destination first); the printer reverses them as AT&T does.
 */

export type Operand =
  | { kind: 'reg'; name: string }
  /** An immediate; `value` as the instruction's decoder gives it (sign-extended or not). */
  | { kind: 'imm'; value: bigint }
  /** A memory reference: `seg` is printed only when a prefix names it (or for string ops). */
  | { kind: 'mem'; seg: string | undefined; base: string | undefined; index: string | undefined; scale: number; disp: bigint; hasDisp: boolean }
  /** A branch target, already computed and wrapped to the mode's width. */
  | { kind: 'rel'; target: bigint }
  /** A far pointer `$seg:$offset`. */
  | { kind: 'far'; seg: number; offset: bigint };

export interface Instruction {
  /** Bytes consumed. */
  length: number;
  /** The mnemonic as printed (suffix and prefixes such as `rep `/`lock ` included). */
  mnemonic: string;
  /** Operands in Intel order. */
  operands: Operand[];
  /** True when the bytes are not an instruction (printed as capstone's `.byte`). */
  bad?: boolean;
  /** The address size in bits (absolute addresses print as unsigned numbers of this width). */
  absWidth?: number;
}

export const enum Mode {
  Real16 = 16,
  Prot32 = 32,
  Long64 = 64,
}
