/**
 * The call-gate test kernel (firmware/call-gate-test/callgates.asm) run on pcvm and compared
 * with QEMU: ring 3 calls ring 0 through a 32-bit call gate copying 3 dwords and returns with
 * RETF 12, then calls through a 16-bit gate copying 2 words; the kernel prints what each
 * procedure found on its stack and the caller's state after the return (SDM Vol. 3A 5.8.5,
 * 5.8.6). EXPECTED is qemu-system-x86_64 7.2 (TCG)'s output for the image; when QEMU is
 * installed the test also runs it and compares live.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { packageRoot } from '../../src/machine/default-firmware.js';

const IMAGE_PATH = join(packageRoot(), 'firmware/call-gate-test/callgates.bin');
const MiB = 1024 * 1024;

/** QEMU 7.2's output (see the kernel's header for what each line is). */
const EXPECTED = [
  '00100073', '0000001B', '33333333', '22222222', '11111111', '00101FF4', '00000023', // 32-bit gate frame
  '00000008', '00000010', 'DEADBEEF', // CS, SS in the procedure
  '00102000', '0000001B', '00000023', '00102FE4', // ESP, CS, SS after RETF 12; ring-0 ESP
  '001B0099', '12345678', '00231FFC', '00102FF4', // 16-bit gate frame, ring-0 ESP
];

/** The 8-digit hex lines of a serial transcript. */
const hexLines = (text: string): string[] => text.split(/\r?\n/).map((l) => /([0-9A-F]{8})$/.exec(l)?.[1]).filter((l): l is string => l !== undefined);

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

describe('call gates in a multiboot kernel, pcvm against QEMU', () => {
  it('pcvm prints what QEMU prints and exits through isa-debug-exit', async () => {
    const serial = new MemoryCharBackend();
    const kernel = { fileName: IMAGE_PATH, data: new Uint8Array(readFileSync(IMAGE_PATH)), cmdline: '', initrd: [] };
    const m = new Machine(
      defaultMachineConfig({ memoryBytes: 32 * MiB, kernel, debugExits: [{ iobase: 0xf4, iosize: 4 }] }),
      { serial: [serial], log: NULL_LOGGER },
    );
    m.start();
    const status = await m.waitForExit();
    expect(status).toBe((0x10 << 1) | 1);
    expect(hexLines(serial.text())).toEqual(EXPECTED);
  });

  it.runIf(haveQemu)('QEMU (TCG) prints the recorded expectation', () => {
    const r = spawnSync('qemu-system-x86_64', [
      '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio', '-accel', 'tcg', '-m', '32',
      '-kernel', IMAGE_PATH, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    ], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe((0x10 << 1) | 1);
    expect(hexLines(r.stdout)).toEqual(EXPECTED);
  });
});
