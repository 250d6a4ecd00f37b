/**
 * Finds the embedded default guest (the demo firmware in firmware/demo/) inside the
 * installed package, whether we run from src/ under vitest or from dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

/** The package's root directory (where package.json is). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'firmware'))) return dir;
    dir = dirname(dir);
  }
  throw new ConfigError('cannot find the pcvm package root (firmware/ is missing)');
}

export const DEFAULT_FIRMWARE_PATH = 'firmware/demo/pcvm-demo.bin';

export function loadDefaultFirmware(): Uint8Array {
  const path = join(packageRoot(), DEFAULT_FIRMWARE_PATH);
  if (!existsSync(path)) throw new ConfigError(`the default firmware ${path} is missing`);
  return new Uint8Array(readFileSync(path));
}

/** pcvm's version from package.json. */
export function pcvmVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
