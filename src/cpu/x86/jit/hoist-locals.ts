/**
 * Turns the block-scoped `const` declarations of a translated block's source into assignments
 * to function-level `let`s, one per distinct name.
 *
 * Why: the instruction templates (translate.ts, operands.ts, …) wrap each instruction in
 * `{ const a = …, b = …, r = …; … }`, and V8 gives every such declaration its own register in
 * the function's frame — a 48-instruction block has a few hundred. Until V8 has optimized a
 * block (and in a boot's cold phases most block runs come before that), each call pays for
 * that frame: the interpreter and baseline code fill every register on entry, and each
 * deoptimization point of the optimized code records them all, which slows TurboFan's
 * compile of the block. One variable per name keeps the frame to a few tens of registers.
 *
 * The rewrite keeps the code's meaning. A name is hoisted only when
 *  - no declaration of it lies inside a block that already declares it (the inner assignment
 *    would clobber the outer value), and
 *  - every use of it is inside a block that declares it (a function-level `let` would
 *    otherwise shadow the closure's binding of that name, such as `s` or `g`).
 * `let` declarations are left as they are and their names never hoisted. The generated code
 * has no strings, template literals or regular expressions; comments (the lazy-flag markers
 * `/*F{*\/ … /*}F*\/`) are copied unchanged. Anything the scanner does not expect (a keyword
 * not followed by one space, a destructuring or a brace inside a declaration) leaves the body
 * as it was.
 */

interface Declaration {
  /** Offsets of the `const` keyword and of the `;` that ends the declaration list. */
  start: number;
  end: number;
  /** `name = init` texts, split at top-level commas. */
  declarators: { name: string; init: string }[];
}

const IDENT_START = /[A-Za-z_$]/;
const IDENT = /[A-Za-z0-9_$]/;

/** Rewrites `body` as described above. */
export function hoistBlockLocals(body: string): string {
  const consts: Declaration[] = [];
  const unsafe = new Set<string>();
  // Names declared in each open block, innermost last (index 0: the function's top level).
  const scopes: Set<string>[] = [new Set()];
  const declared = (name: string): boolean => scopes.some((scope) => scope.has(name));
  const noteUses = (text: string): void => {
    for (const name of identifiers(text)) if (!declared(name)) unsafe.add(name);
  };
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === '/' && body[i + 1] === '*') {
      const close = body.indexOf('*/', i + 2);
      i = close < 0 ? body.length : close + 2;
      continue;
    }
    if (c === '{') {
      scopes.push(new Set());
      i++;
      continue;
    }
    if (c === '}') {
      if (scopes.length > 1) scopes.pop();
      i++;
      continue;
    }
    if (!IDENT_START.test(c) || (i > 0 && IDENT.test(body[i - 1]!))) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < body.length && IDENT.test(body[j]!)) j++;
    const word = body.slice(i, j);
    if (word === 'const' || word === 'let') {
      if (body[j] !== ' ') return body;
      const d = parseDeclaration(body, i, j + 1);
      if (d === undefined) return body;
      for (const { name, init } of d.declarators) {
        noteUses(init);
        // Declared at the top level or again inside a block that declares it: not hoisted.
        if (scopes.length === 1 || declared(name) || word === 'let') unsafe.add(name);
        scopes[scopes.length - 1]!.add(name);
      }
      if (word === 'const') consts.push(d);
      i = d.end + 1;
      continue;
    }
    // A use of a name (not a property after a dot).
    if (!isPropertyName(body, i) && !declared(word)) unsafe.add(word);
    i = j;
  }
  const hoisted = new Set<string>();
  let out = '';
  let at = 0;
  for (const d of consts) {
    if (d.declarators.some(({ name }) => unsafe.has(name))) continue;
    for (const { name } of d.declarators) hoisted.add(name);
    out += body.slice(at, d.start) + d.declarators.map(({ name, init }) => `${name} = ${init}`).join(', ') + ';';
    at = d.end + 1;
  }
  if (hoisted.size === 0) return body;
  return `let ${[...hoisted].map((name) => `${name} = 0`).join(', ')};\n${out}${body.slice(at)}`;
}

/** Whether the identifier at `i` follows a `.` (a property, not a variable). */
function isPropertyName(body: string, i: number): boolean {
  let k = i - 1;
  while (k >= 0 && body[k] === ' ') k--;
  return k >= 0 && body[k] === '.';
}

/** The variable names used in an expression (identifiers not after a dot; numbers skipped). */
function identifiers(text: string): string[] {
  const names: string[] = [];
  for (let i = 0; i < text.length; ) {
    if (!IDENT.test(text[i]!)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < text.length && IDENT.test(text[j]!)) j++;
    if (IDENT_START.test(text[i]!) && !isPropertyName(text, i)) names.push(text.slice(i, j));
    i = j;
  }
  return names;
}

/** The declaration list that starts at `from` (after `const `/`let ` at `start`), to its `;`. */
function parseDeclaration(body: string, start: number, from: number): Declaration | undefined {
  const declarators: { name: string; init: string }[] = [];
  let depth = 0;
  for (let i = from; i < body.length; i++) {
    const c = body[i]!;
    if (c === '{' || c === '}' || (c === '/' && body[i + 1] === '*')) return undefined;
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && (c === ',' || c === ';')) {
      const m = /^\s*([A-Za-z_$][A-Za-z0-9_$]*) = ([^]*)$/.exec(body.slice(from, i));
      if (m === null) return undefined;
      declarators.push({ name: m[1]!, init: m[2]!.trim() });
      from = i + 1;
      if (c === ';') return { start, end: i, declarators };
    }
    if (depth < 0) return undefined;
  }
  return undefined;
}
