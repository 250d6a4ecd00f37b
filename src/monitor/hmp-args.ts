/**
 * HMP argument parsing as QEMU's monitor does it (monitor/hmp.c monitor_parse_arguments,
 * get_expr, get_str): `/fmt` specifiers with the remembered default format and size,
 * integer expressions (`+ - * / % & | ^ ~`, parentheses, 'c' literals, numbers in C syntax:
 * 0x hex, 0 octal, decimal; `$reg` registers), and quoted or bare strings. Errors carry
 * QEMU's wording; the caller prints them followed by `Try "help CMD" for more information`.
 * Values are 64-bit (bigint, as QEMU's int64_t).
 */
import type { Machine } from '../machine/machine.js';
import { SegReg } from '../cpu/x86/state.js';

/** A syntax error in an HMP command line (QEMU prints the message and a "Try help" line). */
export class HmpArgError extends Error {}

/** The result of a `/fmt` specifier. */
export interface FormatSpec {
  count: number;
  /** 'x' 'd' 'u' 'o' 'c' or 'i'. */
  format: string;
  /** 1, 2, 4 or 8; -1 for 'i' without a size. */
  size: number;
}

/** QEMU's default_fmt_format / default_fmt_size: the last format used, per machine. */
const lastFormat = new WeakMap<Machine, { format: string; size: number }>();

/** Cursor over the rest of a command line. */
export class ArgReader {
  pos = 0;
  constructor(readonly text: string, private readonly m: Machine, private readonly cmd: string) {}

  private peek(): string {
    return this.text[this.pos] ?? '';
  }

  skipSpace(): void {
    while (/\s/.test(this.peek()) && this.pos < this.text.length) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  /** Fails unless the line is used up (QEMU: "extraneous characters at the end of line"). */
  end(): void {
    if (!this.atEnd()) throw new HmpArgError(`${this.cmd}: extraneous characters at the end of line`);
  }

  /** A `/{count}{format}{size}` specifier, or the defaults when none is given. */
  format(): FormatSpec {
    const defaults = lastFormat.get(this.m) ?? { format: 'x', size: 4 };
    this.skipSpace();
    if (this.peek() !== '/') {
      return { count: 1, format: defaults.format, size: defaults.format === 'i' ? -1 : defaults.size };
    }
    this.pos++;
    let count = 1;
    if (/[0-9]/.test(this.peek())) {
      count = 0;
      // C int arithmetic, as QEMU's parser: a huge count wraps rather than growing without bound.
      while (/[0-9]/.test(this.peek())) count = (Math.imul(count, 10) + Number(this.text[this.pos++])) | 0;
    }
    let size = -1;
    let format = '';
    for (;;) {
      const c = this.peek();
      if (c !== '' && 'oduxic'.includes(c)) format = c;
      else if (c === 'b') size = 1;
      else if (c === 'h') size = 2;
      else if (c === 'w') size = 4;
      else if (c === 'g' || c === 'L') size = 8;
      else break;
      this.pos++;
    }
    const next = this.peek();
    if (next !== '' && !/\s/.test(next)) throw new HmpArgError(`invalid char in format: '${next}'`);
    if (format === '') format = defaults.format;
    let newSize = defaults.size;
    if (format !== 'i') {
      if (size < 0) size = defaults.size;
      newSize = size;
    }
    lastFormat.set(this.m, { format, size: newSize });
    return { count, format, size };
  }

  /** An optional argument introduced by '.' (QEMU's `X:i.` type): consumes the dot if present. */
  optionalDot(): boolean {
    this.skipSpace();
    if (this.peek() !== '.') return false;
    this.pos++;
    this.skipSpace();
    return true;
  }

  /** A 64-bit expression (QEMU's 'l' argument type). */
  long(): bigint {
    this.skipSpace();
    return BigInt.asIntN(64, this.sum());
  }

  /** A 32-bit expression (QEMU's 'i' argument type): values with high bits set are refused. */
  int(): bigint {
    const v = this.long();
    if ((v >> 32n) & 0xffffffffn) throw new HmpArgError(`'${this.cmd}' has failed: integer is for 32-bit values`);
    return v;
  }

  /** A string: double-quoted with C escapes, or a bare word. */
  string(what = 'string'): string {
    this.skipSpace();
    if (this.pos >= this.text.length) throw new HmpArgError(`${this.cmd}: ${what} expected`);
    if (this.peek() === '"') {
      this.pos++;
      let out = '';
      while (this.pos < this.text.length && this.peek() !== '"') {
        let c = this.text[this.pos++]!;
        if (c === '\\') {
          c = this.text[this.pos++] ?? '';
          const esc: Record<string, string> = { n: '\n', r: '\r', '\\': '\\', "'": "'", '"': '"' };
          if (!Object.hasOwn(esc, c)) throw new HmpArgError(`unsupported escape code: '\\${c}'`);
          c = esc[c]!;
        }
        out += c;
      }
      if (this.peek() !== '"') throw new HmpArgError('unterminated string');
      this.pos++;
      return out;
    }
    const start = this.pos;
    while (this.pos < this.text.length && !/\s/.test(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  // --- expressions (monitor/hmp.c expr_sum, expr_prod, expr_logic, expr_unary) ---

  /** QEMU's next(): steps over one character and the spaces after it. */
  private next(): void {
    if (this.pos < this.text.length) this.pos++;
    this.skipSpace();
  }

  private sum(): bigint {
    let n = this.prod();
    for (;;) {
      const op = this.peek();
      if (op !== '+' && op !== '-') return n;
      this.next();
      const v = this.prod();
      n = BigInt.asIntN(64, op === '+' ? n + v : n - v);
    }
  }

  private prod(): bigint {
    let n = this.logic();
    for (;;) {
      const op = this.peek();
      if (op !== '*' && op !== '/' && op !== '%') return n;
      this.next();
      const v = this.logic();
      if (op === '*') n = BigInt.asIntN(64, n * v);
      else {
        if (v === 0n) throw new HmpArgError('division by zero');
        n = BigInt.asIntN(64, op === '/' ? n / v : n % v);
      }
    }
  }

  private logic(): bigint {
    let n = this.unary();
    for (;;) {
      const op = this.peek();
      if (op !== '&' && op !== '|' && op !== '^') return n;
      this.next();
      const v = this.unary();
      n = op === '&' ? n & v : op === '|' ? n | v : n ^ v;
    }
  }

  private unary(): bigint {
    const c = this.peek();
    let n: bigint;
    switch (c) {
      case '+':
        this.next();
        return this.unary();
      case '-':
        this.next();
        return BigInt.asIntN(64, -this.unary());
      case '~':
        this.next();
        return ~this.unary();
      case '(':
        this.next();
        n = this.sum();
        if (this.peek() !== ')') throw new HmpArgError("')' expected");
        break;
      case "'": {
        const ch = this.text[this.pos + 1];
        if (ch === undefined) throw new HmpArgError('character constant expected');
        n = BigInt(ch.charCodeAt(0));
        this.pos += 2;
        if (this.peek() !== "'") throw new HmpArgError('missing terminating \' character');
        break;
      }
      case '$': {
        this.pos++;
        const start = this.pos;
        while (/[A-Za-z0-9_.]/.test(this.peek())) this.pos++;
        const v = monitorRegister(this.m, this.text.slice(start, this.pos));
        if (v === undefined) throw new HmpArgError('unknown register');
        n = v;
        this.skipSpace();
        return n;
      }
      case '':
        throw new HmpArgError('unexpected end of expression');
      default: {
        // strtoull(…, 0): 0x hex, leading-0 octal, else decimal.
        const rest = this.text.slice(this.pos);
        const mm = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(rest);
        if (!mm) throw new HmpArgError(`invalid char '${c}' in expression`);
        const t = mm[1]!;
        n = /^0[0-7]+$/.test(t) ? BigInt('0o' + t.slice(1)) : BigInt(t);
        if (n > 0xffffffffffffffffn) throw new HmpArgError('number too large');
        n = BigInt.asIntN(64, n);
        this.pos += t.length;
        this.skipSpace();
        return n;
      }
    }
    this.next();
    return n;
  }
}

const GPR_NAMES: Record<string, number> = {
  eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, sp: 4, ebp: 5, fp: 5, esi: 6, edi: 7,
  r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15,
};
const SEGS: Record<string, SegReg> = { cs: SegReg.CS, ds: SegReg.DS, es: SegReg.ES, ss: SegReg.SS, fs: SegReg.FS, gs: SegReg.GS };

/**
 * QEMU's x86 monitor_defs (target/i386/monitor.c): general registers (full 64 bits on the
 * x86_64 target), eflags, eip, segment selectors with `.base` and `.limit`, and `pc` (CS base
 * + EIP). Undefined for an unknown name.
 */
export function monitorRegister(m: Machine, name: string): bigint | undefined {
  const s = m.cpu.s;
  const full = (lo: number, hi: number) => BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
  if (Object.hasOwn(GPR_NAMES, name)) {
    const i = GPR_NAMES[name]!;
    return full(s.gpr[i]!, s.gprHi[i]!);
  }
  if (name === 'eflags') return BigInt(m.cpu.getEflags() >>> 0);
  if (name === 'eip') return full(s.eip, s.ripHi);
  if (name === 'pc') return BigInt.asIntN(64, full(s.eip, s.ripHi) + BigInt(s.segBase[SegReg.CS]!));
  const [seg, field] = name.split('.', 2) as [string, string | undefined];
  if (!Object.hasOwn(SEGS, seg)) return undefined;
  const r = SEGS[seg]!;
  if (field === undefined) return BigInt(s.segSel[r]!);
  if (field === 'base') return BigInt(s.segBase[r]!);
  if (field === 'limit') return BigInt(s.segLimit[r]! >>> 0);
  return undefined;
}
