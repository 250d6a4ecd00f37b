/**
 * HMP `x /Ni` and `xp /Ni` print what QEMU 7.2 prints: qemu-7.2-xp-i.txt is the output of
 * `xp/18ih 0x7c00` and `xp/18iw 0x7c00` from qemu-system-x86_64 -S with the same 64 bytes
 * loaded at 0x7c00 (-device loader), the CPU in real mode after reset. QEMU 7.2 picks the
 * mode from the CPU, not from the size letter, so both listings are 16-bit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { runHmpCommand } from '../../src/monitor/hmp.js';
import { Ar, SegReg } from '../../src/cpu/x86/state.js';

const BLOB = Buffer.from(
  '2e66833ec86100' + '0f8536f0' + '31d2' + 'ea5be000f0' + 'f3a5' + '8b442408' + 'c744240800000080' +
    '3e666469a2ba8680b80e9aaac4' + 'd9c9' + 'dcc1' + '660fefc1' + '0f20c0' + 'cd10' + 'e2fe' + 'ff' + '0f0b' + 'c3',
  'hex',
);
const QEMU = readFileSync(new URL('./disasm/qemu-7.2-xp-i.txt', import.meta.url), 'utf8').split('\n');

function machine(): Machine {
  const m = new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024 }), { serial: [], log: NULL_LOGGER });
  m.memory.ram.set(BLOB, 0x7c00);
  return m;
}

describe('HMP x/i and xp/i', () => {
  it('xp/18ih in real mode prints QEMU 7.2\'s lines byte for byte', () => {
    expect(runHmpCommand(machine(), 'xp/18ih 0x7c00').split('\n')).toEqual(QEMU.slice(0, 18));
  });

  it('the size letter does not change the mode (QEMU 7.2 uses the CPU\'s)', () => {
    expect(runHmpCommand(machine(), 'xp/18iw 0x7c00').split('\n')).toEqual(QEMU.slice(18, 36));
  });

  it('x/i reads through the CPU\'s view and remembers i as the default format', () => {
    const m = machine();
    expect(runHmpCommand(m, 'x/2i 0x7c00').split('\n')).toEqual(QEMU.slice(0, 2));
    expect(runHmpCommand(m, 'x 0x7c0b')).toBe(QEMU[2]);
  });

  it('32-bit code when CS.D is set; an instruction over 8 bytes continues on a second line (cap_dump_insn)', () => {
    const m = machine();
    m.cpu.s.segAr[SegReg.CS] = m.cpu.s.segAr[SegReg.CS]! | Ar.DB;
    // capstone 4 (libcapstone.so.4, AT&T) for these bytes in 32-bit mode at 0x7c14 and 0x7c18:
    // `movl 8(%esp), %eax` and `movl $0x80000000, 8(%esp)`.
    expect(runHmpCommand(m, 'xp/2i 0x7c14')).toBe(
      '0x00007c14:  8b 44 24 08              movl     8(%esp), %eax\n' +
        '0x00007c18:  c7 44 24 08 00 00 00 80  movl     $0x80000000, 8(%esp)',
    );
    m.memory.ram.set(Buffer.from('3e666469a2ba8680b80e9aaac4', 'hex'), 0x8000);
    // 66 64 69 /r iw in 32-bit mode: imulw with a 32-bit displacement, 11 bytes (capstone's text).
    expect(runHmpCommand(m, 'xp/1i 0x8000')).toBe(
      '0x00008000:  3e 66 64 69 a2 ba 86 80  imulw    $0x9a0e, %fs:-0x477f7946(%edx), %sp\n' +
        '0x00008008:  b8 0e 9a',
    );
  });

  it('unreadable memory ends the listing as QEMU does', () => {
    const m = machine();
    expect(runHmpCommand(m, 'xp/2i 0xfffff000000')).toBe('0xfffff000000: unable to read memory');
  });

  it('bytes that are no instruction print as capstone\'s .byte', () => {
    const m = machine();
    m.memory.ram.set([0x0f, 0xff, 0xff], 0x9000);
    m.memory.ram.set([0xd6], 0x9000);
    expect(runHmpCommand(m, 'xp/1i 0x9000')).toBe('0x00009000:  d6                       salc     ');
  });
});
