/**
 * A little-endian byte writer for the firmware tables the board builds in guest memory
 * (ACPI's in acpi/tables.ts, SMBIOS's in smbios/smbios-tables.ts).
 */
export class LeBytes {
  readonly b: number[] = [];

  u8(v: number): this {
    this.b.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }

  u32(v: number): this {
    return this.u16(v & 0xffff).u16(Math.floor(v / 0x10000) & 0xffff);
  }

  u64(v: number): this {
    return this.u32(v % 0x1_0000_0000).u32(Math.floor(v / 0x1_0000_0000));
  }

  /** `s` as `len` ASCII bytes, padded with spaces (ACPI's fixed-width identifiers). */
  ascii(s: string, len: number): this {
    for (let i = 0; i < len; i++) this.u8(i < s.length ? s.charCodeAt(i) : 0x20);
    return this;
  }

  bytes(a: readonly number[]): this {
    for (const x of a) this.u8(x);
    return this;
  }
}
