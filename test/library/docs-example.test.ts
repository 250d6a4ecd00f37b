/**
 * The worked example in docs/library.md runs as written, importing the package by its name
 * (`import { Machine } from 'pcvm'`, resolved through package.json's exports to dist/), and
 * prints what its comments say it prints.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const REPO = new URL('../..', import.meta.url).pathname;

describe('docs/library.md', () => {
  it('the worked example runs against the built package and prints what it promises', () => {
    const doc = readFileSync(new URL('../../docs/library.md', import.meta.url), 'utf8');
    const example = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('exitStatus'))!;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', example], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"echo hello\\r\\nhello\\r\\npcvm> "');
    expect(r.stdout).toContain('VM status: running');
    expect(r.stdout).toContain("{ running: true, status: 'running' }");
    expect(r.stdout).toMatch(/exit status 7\n$/);
  }, 60_000);
});
