/**
 * `info registers` while EFER.LMA is set: QEMU's 64-bit layout (target/i386/cpu-dump.c:
 * RAX..R15, RIP, 16-digit bases, CS64), so that a long-mode guest can be followed from the
 * monitor.
 */
import { describe, expect, it } from 'vitest';
import { formatRegisters } from '../../src/monitor/info-registers.js';
import { CpuHarness } from '../helpers/cpu-harness.js';
import { LongModeHarness } from '../helpers/cpu-harness64.js';

describe('info registers', () => {
  it('shows the 64-bit registers, RIP and the CS64 segment in IA-32e mode', () => {
    const h = LongModeHarness.flat64();
    // mov rax, 0x1122334455667788 ; mov r15, -2 (and an upper-half FS base)
    const r = h.run({
      code: [0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x49, 0xc7, 0xc7, 0xfe, 0xff, 0xff, 0xff],
      setup: (cpu) => {
        cpu.s.segBase[4] = -0x7e000000; // FS base 0xffffffff82000000
      },
    });
    const text = formatRegisters(r.cpu);
    const lines = text.split('\n');
    expect(lines[0]).toBe('RAX=1122334455667788 RBX=0000000000000000 RCX=0000000000000000 RDX=0000000000000000');
    expect(lines[3]).toMatch(/ R15=fffffffffffffffe$/);
    expect(lines[4]).toMatch(/^RIP=0000000000100012 RFL=00000002 /);
    // The descriptor 00af9b00_0000ffff, as QEMU shows it (limit 19:16 included).
    expect(text).toMatch(/^CS =0008 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 \[-RA\]$/m);
    expect(text).toMatch(/^FS =0010 ffffffff82000000 /m);
    expect(text).toMatch(/^EFER=0000000000000500$/m);
  });

  it('keeps the 32-bit layout outside IA-32e mode', () => {
    const h = CpuHarness.flat32();
    h.run({ code: [0xb8, 0x78, 0x56, 0x34, 0x12] });
    const text = formatRegisters(h.cpu);
    expect(text).toMatch(/^EAX=12345678 /);
    // A flat 4 GiB code segment: the descriptor 00cf9b00_0000ffff (Linux's __KERNEL_CS).
    expect(text).toMatch(/^CS =\w{4} 00000000 ffffffff 00cf9b00 DPL=0 CS32 \[-RA\]$/m);
  });
});
