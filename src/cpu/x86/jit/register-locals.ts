/**
 * Keeps the guest registers a translated block reads in JavaScript locals: `g[3]` (the low
 * half of RBX, from the CPU's Int32Array) becomes `g3`, loaded once when the block starts, and
 * every write goes to both (`g[3] = (g3 = (v) | 0)`: write-through).
 *
 * Why: V8 cannot tell the register arrays from the guest-RAM arrays the block stores to, so
 * each `g[n]` after a store is a fresh load of the array's backing store, length and element
 * — and 64-bit code reads two arrays per register. A local stays in a machine register or a
 * stack slot.
 *
 * Why write-through rather than writing back at the exits: the CPU's arrays are then always
 * current, so a fault thrown anywhere in the block, a slow-path memory access and every exit
 * see the right registers with no change to the code around them.
 *
 * The rewrite applies only where it keeps the code's meaning; otherwise the body is returned
 * unchanged:
 *  - every use of `g` and `h` is an element with a literal index (`g[3]`), and every write a
 *    plain assignment `g[3] = …` (no compound assignment or `++`), not nested in another's
 *    right-hand side. A write that is a statement of its own stores the local; one inside an
 *    expression (a POP's `(…, g[4] = ms + 4, mv)`) keeps the assignment's value, the
 *    unconverted right-hand side, through a temporary `rt`;
 *  - the block calls no function that writes registers behind its back (MUL/DIV's
 *    accumulator helpers, `cpu.push`, …): only PURE_FUNCTIONS (helpers and the memory
 *    accessors, which read the arrays, always current, and never write them),
 *    PURE_CPU_METHODS, Math's and the lazy flags' methods.
 * The int32 store keeps `| 0` semantics: a local holds what reading the array would give.
 */

/** The CPU's methods a block may call that never write a general register. */
const PURE_CPU_METHODS = new Set(['materializeFlags', 'getCF', 'condition', 'setRip']);
/** Free functions (helpers and memory accessors) that never write a general register. */
const PURE_FUNCTIONS = new Set([
  'alu', 'inc', 'dec', 'neg', 'shift', 'doubleShift', 'imulTrunc', 'signExtend',
  'alu64', 'inc64', 'dec64', 'neg64', 'shift64', 'doubleShift64', 'imulTrunc64', 'bswap64', 'eaOf',
  'setIp', 'rd8', 'rd16', 'rd32', 'rd64', 'wr8', 'wr16', 'wr32', 'wr64', 'mustStop',
]);

const ELEMENT = /\b([gh])\[(\d+)\]/g;
const WRITE = /\b([gh])\[(\d+)\] = (?!=)/y;

/** Rewrites `body` as described above, or returns it unchanged. */
export function cacheRegisters(body: string): string {
  if (!callsArePure(body)) return body;
  // Any `g`/`h` not directly indexed by a literal (passed along, a computed index), or a
  // name the rewrite would introduce already in use: leave the block alone.
  if (/\b[gh]\b(?!\[\d+\])/.test(body) || /\b(?:[gh]\d+|rt)\b/.test(body)) return body;
  if (/\b[gh]\[\d+\]\s*(?:[-+*/%&|^]|<<|>>>?)=|\b[gh]\[\d+\]\s*(?:\+\+|--)|(?:\+\+|--)\s*[gh]\[\d+\]/.test(body)) return body;

  // How often each register is read (a write's target is not a read).
  const reads = new Map<string, number>();
  const writes: { at: number; name: string; exprStart: number; exprEnd: number }[] = [];
  for (const m of body.matchAll(ELEMENT)) {
    const at = m.index;
    WRITE.lastIndex = at;
    if (WRITE.test(body)) {
      const exprStart = WRITE.lastIndex;
      const exprEnd = expressionEnd(body, exprStart);
      if (exprEnd < 0) return body;
      writes.push({ at, name: `${m[1]!}${m[2]!}`, exprStart, exprEnd });
      continue;
    }
    const name = `${m[1]!}${m[2]!}`;
    reads.set(name, (reads.get(name) ?? 0) + 1);
  }
  // Cached: registers the block's text reads more than once. One read gains nothing from a
  // local and would cost a load at every entry even when its path is not taken.
  const read = new Set([...reads].filter(([, n]) => n > 1).map(([name]) => name));
  if (read.size === 0) return body;

  // Rebuild: writes of cached registers go through their local, reads use it.
  let out = '';
  let pos = 0;
  const rewriteReads = (text: string) =>
    text.replace(ELEMENT, (whole, arr: string, n: string) => (read.has(`${arr}${n}`) ? `${arr}${n}` : whole));
  for (const w of writes) {
    if (w.at < pos) return body; // a write nested inside another's expression
    out += rewriteReads(body.slice(pos, w.at));
    const target = body.slice(w.at, w.exprStart - 3);
    const expr = rewriteReads(body.slice(w.exprStart, w.exprEnd));
    if (!read.has(w.name)) out += `${target} = ${expr}`;
    // A statement stores the local; elsewhere the assignment keeps its value (the unconverted
    // right-hand side, as `g[n] = x` gives) through a temporary.
    else if (isStatement(body, w.at, w.exprEnd)) out += `${target} = (${w.name} = (${expr}) | 0)`;
    else out += `${target} = (rt = (${expr}), ${w.name} = rt | 0, rt)`;
    pos = w.exprEnd;
  }
  out += rewriteReads(body.slice(pos));
  const loads = [...read].sort().map((name) => `${name} = ${name[0]!}[${name.slice(1)}]`);
  return `let ${loads.join(', ')}, rt = 0;\n${out}`;
}

/**
 * The offset just past the right-hand side of an assignment whose right-hand side starts at
 * `from`: at the first `;`, `,` or `:` (without its `?`) on its own level, or at the bracket
 * that closes the level it is on; -1 when the body ends first.
 */
function expressionEnd(body: string, from: number): number {
  let depth = 0;
  let ternaries = 0;
  for (let i = from; i < body.length; i++) {
    const c = body[i]!;
    if (c === '/' && body[i + 1] === '*') {
      const close = body.indexOf('*/', i + 2);
      if (close < 0) return -1;
      i = close + 1;
    } else if (c === '(' || c === '[' || c === '{') {
      depth++;
    } else if (c === ')' || c === ']' || c === '}') {
      if (--depth < 0) return i;
    } else if (depth === 0) {
      if (c === ';' || c === ',') return i;
      if (c === '?') ternaries++;
      else if (c === ':' && --ternaries < 0) return i;
    }
  }
  return -1;
}

/**
 * Whether the assignment at `at`, whose right-hand side ends at `end`, is a statement of its
 * own (its value unused): after `{`, `}`, `;`, `)` (an `if`'s condition) or `else`, and
 * ended by `;`.
 */
function isStatement(body: string, at: number, end: number): boolean {
  if (body[end] !== ';') return false;
  const before = body.slice(Math.max(0, at - 8), at).trimEnd();
  return before === '' || /[{};)]$/.test(before) || /\belse$/.test(before);
}

/** Whether every call in `body` is to a function known not to write a general register. */
function callsArePure(body: string): boolean {
  // A call through a computed callee (`f[i](…)`, `(…)(…)`) is not told apart: impure.
  if (/[\])]\s*\(/.test(body)) return false;
  for (const m of body.matchAll(/(?<![\w$.])([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\(/g)) {
    const callee = m[1]!;
    const dot = callee.lastIndexOf('.');
    if (dot < 0) {
      if (!KEYWORDS.has(callee) && !PURE_FUNCTIONS.has(callee)) return false;
      continue;
    }
    const object = callee.slice(0, dot);
    const name = callee.slice(dot + 1);
    // Math's functions; the lazy flags' (L: they read and write only flag state); the CPU's pure ones.
    if (!(object === 'Math' || object === 'L' || (object === 'cpu' && PURE_CPU_METHODS.has(name)) || (object === 'I' && name === 'hasInterrupt'))) return false;
  }
  return true;
}

/** Keywords followed by a parenthesis in generated code. */
const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'typeof']);
