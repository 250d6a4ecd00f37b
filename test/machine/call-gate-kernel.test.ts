/**
 * The call-gate test kernels (firmware/call-gate-test/) run on pcvm and compared with QEMU.
 * callgates.asm: ring 3 calls ring 0 through a 32-bit call gate copying 3 dwords and returns
 * with RETF 12, then calls through a 16-bit gate copying 2 words. callgates64.asm: in IA-32e
 * mode, ring 3 calls ring 0 through a 64-bit gate from 64-bit mode (back with REX.W RETF) and
 * from compatibility mode. Each prints what the procedures found on their stacks and the
 * caller's state after the return (SDM Vol. 3A 5.8.3.1, 5.8.5, 5.8.6). The expectations are
 * qemu-system-x86_64 7.2 (TCG)'s output for the images; when QEMU is installed the test also
 * runs it and compares live.
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

const MiB = 1024 * 1024;

/** QEMU 7.2's output for callgates.bin (see the kernel's header for what each line is). */
const EXPECTED_32 = [
  '00100073', '0000001B', '33333333', '22222222', '11111111', '00101FF4', '00000023', // 32-bit gate frame
  '00000008', '00000010', 'DEADBEEF', // CS, SS in the procedure
  '00102000', '0000001B', '00000023', '00102FE4', // ESP, CS, SS after RETF 12; ring-0 ESP
  '001B0099', '12345678', '00231FFC', '00102FF4', // 16-bit gate frame, ring-0 ESP
];

/** QEMU 7.2's output for callgates64.bin. */
const EXPECTED_64 = [
  '00000000001000B4', '000000000000002B', '0000000000101FF8', '0000000000000023', // RIP, CS, RSP, SS
  '0000000000000008', '0000000000000000', '0000000000102FE0', // CS, null SS, RSP0 - 32
  '0000000000101FF8', '000000000000002B', '0000000000000023', // after RETFQ
  '00000000001000DD', '000000000000001B', '0000000000101FF8', '0000000000000023', // from compatibility mode
  '0000000000000008', '0000000000000000', '0000000000102FE0',
  'DEADBEEFDEADBEEF', 'DEADBEEFDEADBEEF', 'DEADBEEFDEADBEEF',
];

const KERNELS = [
  { image: 'firmware/call-gate-test/callgates.bin', expected: EXPECTED_32 },
  { image: 'firmware/call-gate-test/callgates64.bin', expected: EXPECTED_64 },
];

/** The 8- or 16-digit hex lines of a serial transcript (QEMU's first one follows SeaBIOS's text). */
const hexLines = (text: string): string[] => text.split(/\r?\n/).map((l) => /(?:^|[^0-9A-F])([0-9A-F]{16}|[0-9A-F]{8})$/.exec(l)?.[1]).filter((l): l is string => l !== undefined);

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

describe.each(KERNELS)('$image: pcvm against QEMU', ({ image, expected }) => {
  const path = join(packageRoot(), image);

  it('pcvm prints what QEMU prints and exits through isa-debug-exit', async () => {
    const serial = new MemoryCharBackend();
    const kernel = { fileName: path, data: new Uint8Array(readFileSync(path)), cmdline: '', initrd: [] };
    const m = new Machine(
      defaultMachineConfig({ memoryBytes: 32 * MiB, kernel, debugExits: [{ iobase: 0xf4, iosize: 4 }] }),
      { serial: [serial], log: NULL_LOGGER },
    );
    m.start();
    const status = await m.waitForExit();
    expect(status).toBe((0x10 << 1) | 1);
    expect(hexLines(serial.text())).toEqual(expected);
  });

  it.runIf(haveQemu)('QEMU (TCG) prints the recorded expectation', () => {
    const r = spawnSync('qemu-system-x86_64', [
      '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio', '-accel', 'tcg', '-m', '32',
      '-kernel', path, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    ], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe((0x10 << 1) | 1);
    expect(hexLines(r.stdout)).toEqual(expected);
  });
});
