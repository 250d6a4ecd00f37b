/**
 * HMP `x`, `xp` and `p` output as QEMU prints it (monitor/hmp-cmds-target.c memory_dump,
 * monitor/hmp-cmds.c hmp_print and monitor_printc): 8 items a line for bytes, 16 bytes a
 * line otherwise, each line `%016x:` then ` item`s, items as `0x%0*x`, `%#*o`, `%*u`, `%*d`
 * (width from the item size) or a quoted character; ` Cannot access memory` ends the dump at
 * the first unreadable line.
 */
import type { FormatSpec } from './hmp-args.js';

export const hex16 = (v: bigint) =>
  (v >= 0n && v < 2n ** 53n ? Number(v) : BigInt.asUintN(64, v)).toString(16).padStart(16, '0');

/** QEMU's monitor_printc: a character in quotes, escaped as C would. */
export function quoteChar(c: number): string {
  c |= 0;
  let body: string;
  if (c === 0x27) body = "\\'";
  else if (c === 0x5c) body = '\\\\';
  else if (c === 0x0a) body = '\\n';
  else if (c === 0x0d) body = '\\r';
  else if (c >= 32 && c <= 126) body = String.fromCharCode(c);
  else body = `\\x${(c >>> 0).toString(16).padStart(2, '0')}`;
  return `'${body}'`;
}

/** `%#o` of an unsigned 64-bit value (C prints plain 0 for zero). */
function altOctal(v: bigint): string {
  return v === 0n ? '0' : '0' + v.toString(8);
}

/**
 * The text of a memory dump (lines joined with "\n"). `read(addr, len)` returns the bytes or
 * undefined when they cannot be read.
 */
export function memoryDump(spec: FormatSpec, addr: bigint, read: (addr: bigint, len: number) => Uint8Array | undefined): string {
  let wsize = spec.size;
  let len = Math.imul(wsize, spec.count); // C int, as QEMU's len
  // A dump of more lines than a monitor can hold in one string stops with an error line
  // rather than exhausting the host (QEMU streams its output; this monitor returns a string).
  const maxLines = 1 << 16;
  const lineSize = wsize === 1 ? 8 : 16;
  let digits = 0;
  switch (spec.format) {
    case 'o': digits = Math.ceil((wsize * 8) / 3); break;
    case 'u': case 'd': digits = Math.ceil((wsize * 8 * 10) / 33); break;
    case 'c': wsize = 1; break;
    default: digits = (wsize * 8) / 4;
  }
  const lines: string[] = [];
  while (len > 0) {
    if (lines.length >= maxLines) {
      lines.push('Error: dump truncated after 65536 lines (use memsave or pmemsave for more)');
      break;
    }
    let line = `${hex16(addr)}:`;
    const l = Math.min(len, lineSize);
    const buf = read(addr, l);
    if (!buf) {
      lines.push(line + ' Cannot access memory');
      break;
    }
    for (let i = 0; i < l; i += wsize) {
      line += ' ';
      if (wsize <= 4) {
        // Up to 32 bits: plain numbers (the common case, and much faster than bigint).
        let v = 0;
        for (let k = Math.min(wsize, l - i) - 1; k >= 0; k--) v = v * 256 + buf[i + k]!;
        switch (spec.format) {
          case 'o': line += (v === 0 ? '0' : '0' + v.toString(8)).padStart(digits); break;
          case 'u': case 'd': line += v.toString().padStart(digits); break;
          case 'c': line += quoteChar(v); break;
          default: line += '0x' + v.toString(16).padStart(digits, '0');
        }
        continue;
      }
      let v = 0n;
      for (let k = wsize - 1; k >= 0; k--) v = (v << 8n) | BigInt(buf[i + k]!);
      switch (spec.format) {
        case 'o': line += altOctal(v).padStart(digits); break;
        case 'u': line += v.toString().padStart(digits); break;
        case 'd': line += BigInt.asIntN(64, v).toString().padStart(digits); break;
        default: line += '0x' + v.toString(16).padStart(digits, '0');
      }
    }
    lines.push(line);
    addr = BigInt.asUintN(64, addr + BigInt(l));
    len -= l;
  }
  return lines.join('\n');
}

/** `p /fmt value` (hmp_print): `%#x`, `%#o`, `%u`, `%d` (default) or a quoted character. */
export function formatPrint(format: string, val: bigint): string {
  const u = BigInt.asUintN(64, val);
  switch (format) {
    case 'o': return altOctal(u);
    case 'x': return u === 0n ? '0' : '0x' + u.toString(16);
    case 'u': return u.toString();
    case 'c': return quoteChar(Number(BigInt.asIntN(32, val)));
    default: return BigInt.asIntN(64, val).toString();
  }
}
