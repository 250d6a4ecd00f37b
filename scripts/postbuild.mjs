// Marks the CLI entry executable after tsc wrote it (npm links bin files, but a plain
// `node dist/...` user and the fresh-clone check should not depend on npm's chmod).
import { chmodSync, existsSync } from 'node:fs';
for (const bin of ['../dist/src/cli/main.js', '../dist/src/expect/pcvm-test.js']) {
  const file = new URL(bin, import.meta.url);
  if (existsSync(file)) chmodSync(file, 0o755);
}
