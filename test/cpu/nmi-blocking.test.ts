/**
 * NMI blocking (SDM Vol. 3A 6.7.1): delivering an NMI blocks further NMIs until the next IRET;
 * one NMI arriving meanwhile is held and taken right after that IRET; and "execution of the
 * IRET instruction unblocks NMIs even if the instruction causes a fault". Checked through
 * every IRET path: protected-mode IRETD, real-mode IRET and 64-bit IRETQ.
 *
 * The NMI handlers count their entries at DATA and, on the first entry, write port 0x99,
 * which the test wires to `injectNmi` — the second NMI arrives while the first is handled.
 * After a few instructions each entry records the count it sees at DATA + 4·count (2·count in
 * real mode): nested delivery would make the first entry record 2. Bytes assembled with nasm.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness } from '../helpers/cpu-harness.js';
import { LongModeHarness } from '../helpers/cpu-harness64.js';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import type { IoPortBus } from '../../src/memory/io-bus.js';

const NMI = 2;
const DATA = 0x30000;
const HANDLER = 0x40000;

/** Port 0x99: any write raises NMI on `cpu` (a stand-in for LINT1 or the monitor's `nmi`). */
function wireNmiPort(io: IoPortBus, cpu: X86Cpu): void {
  io.map('nmi-trigger', 0x99, 1, { ioRead: () => 0xff, ioWrite: () => cpu.injectNmi() });
}

// inc dword [DATA]; cmp dword [DATA],1; jne rec; out 0x99,al; rec: nop x3;
// mov eax,[DATA]; mov ecx,[DATA]; mov [DATA+ecx*4],eax; iretd
const HANDLER32 = [
  0xff, 0x05, 0x00, 0x00, 0x03, 0x00, 0x83, 0x3d, 0x00, 0x00, 0x03, 0x00, 0x01, 0x75, 0x02, 0xe6, 0x99, 0x90, 0x90, 0x90,
  0xa1, 0x00, 0x00, 0x03, 0x00, 0x8b, 0x0d, 0x00, 0x00, 0x03, 0x00, 0x89, 0x04, 0x8d, 0x00, 0x00, 0x03, 0x00, 0xcf,
];
// nop x3; mov ebx,[DATA]
const MAIN32 = [0x90, 0x90, 0x90, 0x8b, 0x1d, 0x00, 0x00, 0x03, 0x00];

describe('protected mode: NMI blocked until IRETD', () => {
  function harness(handler: number[]): CpuHarness {
    const h = CpuHarness.flat32();
    wireNmiPort(h.io, h.cpu);
    h.setIdtGate(NMI, HANDLER);
    h.write(HANDLER, handler);
    return h;
  }

  it('an NMI arriving in the handler is held until IRETD, then delivered: both are handled, neither nested', () => {
    const h = harness(HANDLER32);
    const r = h.run({ code: MAIN32, clear: [{ addr: DATA, length: 16 }], setup: (cpu) => cpu.injectNmi() });
    expect(r.exception).toBeUndefined();
    expect(r.exit).toBe('halt');
    expect(r.read32(DATA)).toBe(2);
    expect([r.read32(DATA + 4), r.read32(DATA + 8)]).toEqual([1, 2]);
    expect(r.regs.ebx).toBe(2); // the main code ran after both handlers
    expect(h.cpu.s.nmiBlocked).toBe(false);
    expect(h.cpu.s.nmiPending).toBe(false);
  });

  it('without an IRET the second NMI stays pending and blocked, even across HLT', () => {
    const h = harness([0xff, 0x05, 0x00, 0x00, 0x03, 0x00, 0xe6, 0x99, 0xf4]); // inc dword [DATA]; out 0x99,al; hlt
    const r = h.run({ code: MAIN32, clear: [{ addr: DATA, length: 16 }], setup: (cpu) => cpu.injectNmi(), budget: 1000 });
    expect(r.exit).toBe('halt');
    expect(r.read32(DATA)).toBe(1);
    expect(h.cpu.s.nmiBlocked).toBe(true);
    expect(h.cpu.s.nmiPending).toBe(true);
  });

  it('an IRETD that faults (#GP for a null CS) still unblocks NMIs: the held NMI is taken before the #GP handler runs', () => {
    // inc dword [DATA]; cmp dword [DATA],1; jne second; out 0x99,al; mov dword [esp+4],0; iretd; second: hlt
    const h = harness([
      0xff, 0x05, 0x00, 0x00, 0x03, 0x00, 0x83, 0x3d, 0x00, 0x00, 0x03, 0x00, 0x01, 0x75, 0x0b, 0xe6, 0x99,
      0xc7, 0x44, 0x24, 0x04, 0x00, 0x00, 0x00, 0x00, 0xcf, 0xf4,
    ]);
    const r = h.run({ code: MAIN32, clear: [{ addr: DATA, length: 16 }], setup: (cpu) => cpu.injectNmi() });
    expect(r.exit).toBe('halt');
    expect(r.read32(DATA)).toBe(2);
    // The #GP frame was pushed (its handler has not run yet: the NMI came first).
    expect(h.cpu.s.nmiBlocked).toBe(true);
    expect(r.exception).toBeUndefined();
  });
});

describe('real mode: NMI blocked until IRET', () => {
  it('both NMIs are handled, the second after the first IRET', () => {
    const h = CpuHarness.real16();
    wireNmiPort(h.io, h.cpu);
    h.setIvtEntry(NMI, 0, 0x4000);
    // inc word [cs:0x5000]; cmp word [cs:0x5000],1; jne rec; out 0x99,al; rec: nop;
    // mov ax,[cs:0x5000]; mov bx,ax; shl bx,1; mov [cs:0x5000+bx],ax; iret
    h.write(0x4000, [
      0x2e, 0xff, 0x06, 0x00, 0x50, 0x2e, 0x83, 0x3e, 0x00, 0x50, 0x01, 0x75, 0x02, 0xe6, 0x99, 0x90,
      0x2e, 0xa1, 0x00, 0x50, 0x89, 0xc3, 0xd1, 0xe3, 0x2e, 0x89, 0x87, 0x00, 0x50, 0xcf,
    ]);
    // nop x3; mov bx,[cs:0x5000] — the main code's CS is 0x1000, so read through ES = 0 instead.
    const main = [0x90, 0x90, 0x90, 0x26, 0x8b, 0x1e, 0x00, 0x50];
    const r = h.run({ code: main, clear: [{ addr: 0x5000, length: 8 }], setup: (cpu) => cpu.injectNmi() });
    expect(r.exception).toBeUndefined();
    expect(r.read16(0x5000)).toBe(2);
    expect([r.read16(0x5002), r.read16(0x5004)]).toEqual([1, 2]);
    expect(r.regs.ebx & 0xffff).toBe(2);
  });
});

describe('64-bit mode: NMI blocked until IRETQ', () => {
  it('both NMIs are handled, the second after the first IRETQ', () => {
    const h = LongModeHarness.flat64();
    wireNmiPort(h.io, h.cpu);
    h.setIdtGate(NMI, BigInt(HANDLER));
    // inc dword [DATA]; cmp dword [DATA],1; jne rec; out 0x99,al; rec: nop;
    // mov eax,[DATA]; mov ecx,eax; mov [DATA+rcx*4],eax; iretq
    h.write(HANDLER, [
      0xff, 0x04, 0x25, 0x00, 0x00, 0x03, 0x00, 0x83, 0x3c, 0x25, 0x00, 0x00, 0x03, 0x00, 0x01, 0x75, 0x02, 0xe6, 0x99, 0x90,
      0x8b, 0x04, 0x25, 0x00, 0x00, 0x03, 0x00, 0x89, 0xc1, 0x89, 0x04, 0x8d, 0x00, 0x00, 0x03, 0x00, 0x48, 0xcf,
    ]);
    h.write(DATA, new Uint8Array(16));
    // nop x3; mov ebx,[DATA]
    const r = h.run({ code: [0x90, 0x90, 0x90, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x03, 0x00], setup: (cpu) => cpu.injectNmi() });
    expect(r.exception).toBeUndefined();
    const mem = h.mem;
    expect(mem.read(DATA, 4)).toBe(2);
    expect([mem.read(DATA + 4, 4), mem.read(DATA + 8, 4)]).toEqual([1, 2]);
    expect(h.cpu.s.gpr[3]).toBe(2);
  });
});
