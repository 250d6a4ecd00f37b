/**
 * Reads instruction bytes for the block compiler: from a RAM buffer, never past the end the
 * fetch window allows (page end, CS limit). Running past it throws `OutOfBytes`, which ends
 * the block before the instruction that needed the byte.
 */

export class OutOfBytes extends Error {}
const OUT_OF_BYTES = new OutOfBytes('instruction crosses the end of the code window');

export class CodeReader {
  /** Index of the next byte in `buf`. */
  pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    /** First index that may not be read. */
    private readonly end: number,
  ) {
    this.pos = start;
  }

  u8(): number {
    if (this.pos >= this.end) throw OUT_OF_BYTES;
    return this.buf[this.pos++]!;
  }

  s8(): number {
    return (this.u8() << 24) >> 24;
  }

  u16(): number {
    const lo = this.u8();
    return lo | (this.u8() << 8);
  }

  /** A 32-bit immediate as an unsigned number. */
  u32(): number {
    const lo = this.u16();
    return (lo | (this.u16() << 16)) >>> 0;
  }

  /** An immediate of `size` bits (8, 16, 32), unsigned. */
  imm(size: number): number {
    return size === 8 ? this.u8() : size === 16 ? this.u16() : this.u32();
  }
}
