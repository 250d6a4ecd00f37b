import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const imagePath = fileURLToPath(new URL('../../firmware/demo/pcvm-demo.bin', import.meta.url));
const buildScript = fileURLToPath(new URL('../../scripts/build-firmware.mjs', import.meta.url));

const IMAGE_SIZE = 0x10000;
const RESET_VECTOR = 0xfff0;
const ROM_SEGMENT = 0xf000;

const nasm = process.env.NASM || 'nasm';
const probe = spawnSync(nasm, ['-v']);
const hasNasm = !probe.error && probe.status === 0;

describe('pcvm demo firmware image', () => {
  const image = readFileSync(imagePath);

  it('is exactly 64 KiB, the size mapped below 4 GiB and at 0xF0000', () => {
    expect(image.length).toBe(IMAGE_SIZE);
  });

  it('has a far jump into segment F000 at the reset vector, landing inside the image', () => {
    expect(image[RESET_VECTOR]).toBe(0xea); // JMP ptr16:16
    const offset = image.readUInt16LE(RESET_VECTOR + 1);
    const segment = image.readUInt16LE(RESET_VECTOR + 3);
    expect(segment).toBe(ROM_SEGMENT);
    // F000:offset is physical 0xF0000 + offset, i.e. image offset `offset`;
    // it must be real code, not the reset vector itself or the padding.
    expect(offset).toBeLessThan(RESET_VECTOR);
    expect(image[offset]).not.toBe(0xff);
  });

  it.skipIf(!hasNasm)('is what firmware/demo/pcvm-demo.asm assembles to, as are the other images (nasm, build-firmware --check)', () => {
    const r = spawnSync(process.execPath, [buildScript, '--check'], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('firmware check passed');
  });
});
