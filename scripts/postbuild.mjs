// Marks the CLI entry executable after tsc wrote it (npm links bin files, but a plain
// `node dist/...` user and the fresh-clone check should not depend on npm's chmod).
import { chmodSync, existsSync } from 'node:fs';
const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
