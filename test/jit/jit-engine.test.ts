/**
 * The JIT keeps the interpreter's semantics where translated code is most likely to go
 * wrong: code that rewrites itself or is rewritten by DMA, faults in the middle of a block
 * (state, EIP and the instruction count), segments that stop being flat after a block was
 * translated, and whole programs (the multiboot test kernel) run as translated code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, DATA_ADDR, GDT_SELECTORS } from '../helpers/cpu-harness.js';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig } from '../../src/machine/config.js';
import { MemoryCharBackend } from '../../src/chardev/chardev.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { packageRoot } from '../../src/machine/default-firmware.js';
import { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import { countRunBlock } from '../helpers/run-block-counts.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** Runs `code` on both engines; returns both results. */
function both(code: number[], setup?: Parameters<CpuHarness['run']>[0]['setup']) {
  const interp = CpuHarness.flat32().run({ code, setup });
  const jitHarness = CpuHarness.flat32({ jit: true });
  const jit = jitHarness.run({ code, setup });
  return { interp, jit, harness: jitHarness };
}

describe('JIT', () => {
  it('an instruction rewritten by an earlier store in the same block runs its new bytes', () => {
    // mov byte [CODE_ADDR + 8], 0x22 ; mov eax, 0x11 (the immediate's low byte is at offset 8)
    const code = [0xc6, 0x05, ...le32(CODE_ADDR + 8), 0x22, 0xb8, 0x11, 0x00, 0x00, 0x00];
    const { interp, jit } = both(code);
    expect(interp.regs.eax).toBe(0x22);
    expect(jit.regs.eax).toBe(0x22);
  });

  it('a translated loop body rewritten between iterations runs the new code', () => {
    // ecx = 2; loop: mov eax, imm32 (at L+1) ; add ebx, eax ; mov dword [L+1], 5 ; dec ecx ; jnz loop
    const L = CODE_ADDR + 5;
    const code = [
      0xb9, ...le32(2), // mov ecx, 2
      0xb8, ...le32(1), // L: mov eax, 1
      0x01, 0xc3, // add ebx, eax
      0xc7, 0x05, ...le32(L + 1), ...le32(5), // mov dword [L+1], 5
      0x49, // dec ecx
      0x75, 0x100 - 20, // jnz L
    ];
    const { interp, jit } = both(code);
    expect(interp.regs.ebx).toBe(6);
    expect(jit.regs.ebx).toBe(6);
  });

  it('each translation reports its host time to the clock, which leaves it out of guest time', () => {
    const h = CpuHarness.flat32({ jit: true });
    const engine = h.cpu.blockEngine as JitEngine;
    const reported: number[] = [];
    (h.cpu.bus as { excludeHostTime?: (ns: number) => void }).excludeHostTime = (ns) => reported.push(ns);
    h.run({ code: [0xeb, 0x00, 0xb8, ...le32(7)] });
    expect(engine.stats.translated).toBeGreaterThan(0);
    expect(reported.length).toBeGreaterThanOrEqual(engine.stats.translated);
    for (const ns of reported) expect(ns).toBeGreaterThan(0);
  });

  it('a DMA write into a translated page drops its blocks', () => {
    const h = CpuHarness.flat32({ jit: true });
    const engine = h.cpu.blockEngine as JitEngine;
    // jmp $+2 (the first instruction after a reset is interpreted; it fills the fetch window)
    // ; mov eax, 7 (translated)
    const code = [0xeb, 0x00, 0xb8, ...le32(7)];
    expect(h.run({ code }).regs.eax).toBe(7);
    expect(engine.stats.translated).toBeGreaterThan(0);
    // A device writes far from the block's bytes: nothing to drop.
    h.mem.writeBytes(CODE_ADDR + 0x800, new Uint8Array([9]));
    expect(engine.stats.invalidated).toBe(0);
    // A device writes the immediate (as virtio would): through PhysicalMemory.writeBytes.
    h.mem.writeBytes(CODE_ADDR + 3, new Uint8Array([9]));
    expect(engine.stats.invalidated).toBeGreaterThan(0);
  });

  it('a fault in the middle of a block leaves the same state and instruction count as the interpreter', () => {
    // xor edx, edx ; mov eax, 5 ; inc ebx ; div ecx (ecx = 0 → #DE) ; inc esi
    const code = [0x31, 0xd2, 0xb8, ...le32(5), 0x43, 0xf7, 0xf1, 0x46];
    const interp = CpuHarness.flat32();
    const jit = CpuHarness.flat32({ jit: true });
    const a = interp.run({ code, regs: { ecx: 0 } });
    const b = jit.run({ code, regs: { ecx: 0 } });
    expect(a.exception?.vector).toBe(0);
    expect(b.exception).toEqual(a.exception);
    expect(b.regs).toEqual(a.regs);
    expect(jit.cpu.retired).toBe(interp.cpu.retired);
  });

  it('a block translated with a flat DS obeys DS after it is reloaded with a 4 KiB segment', () => {
    // mov eax, [DATA_ADDR]: translated with flat DS; then DS gets DATA_SMALL (limit 0xfff): #GP.
    const code = [0xa1, ...le32(DATA_ADDR)];
    const h = CpuHarness.flat32({ jit: true });
    expect(h.run({ code }).exception).toBeUndefined();
    const r = h.run({
      code,
      setup: (cpu) => {
        cpu.s.segSel[3] = GDT_SELECTORS.DATA_SMALL;
        cpu.s.segLimit[3] = 0xfff;
      },
    });
    expect(r.exception?.vector).toBe(13);
  });

  it('the multiboot test kernel passes every check when run as translated code', async () => {
    const elf = new Uint8Array(readFileSync(join(packageRoot(), 'firmware/multiboot-test/mbtest.elf')));
    const mod0 = new Uint8Array(4219);
    for (let i = 0; i < mod0.length; i++) mod0[i] = (i * 7 + 3) & 0xff;
    const serial = new MemoryCharBackend();
    const m = new Machine(defaultMachineConfig({
      memoryBytes: 64 << 20,
      accel: 'jit',
      kernel: {
        fileName: 'firmware/multiboot-test/mbtest.elf', data: elf, cmdline: 'console=ttyS0 pcvm-multiboot-test',
        initrd: [{ name: '/tmp/mods/mod0.bin alpha beta', data: mod0 }, { name: '/tmp/mods/mod,1.bin', data: new TextEncoder().encode('second module\n') }],
      },
      debugExits: [{ iobase: 0xf4, iosize: 4 }],
    }), { serial: [serial], log: NULL_LOGGER });
    m.start();
    const status = await m.waitForExit();
    expect(serial.text()).toContain('PASS: all checks');
    expect(status).toBe((0x10 << 1) | 1);
    expect(m.accel.name).toBe('jit');
  });
});

/**
 * Runs `mov ecx, passes; L: call A; call B; dec ecx; jnz L` with A (inc eax; ret) and B
 * (inc ebx; ret) 64 KiB apart: the same low 16 bits of the RAM index, the same direct-mapped
 * slot of the block cache.
 */
function callTwoRoutinesInOneSlot(h: CpuHarness, passes: number) {
  const A = CODE_ADDR + 0x20000;
  const B = A + 0x10000;
  const code = [0xb9, ...le32(passes), 0xe8, ...le32(A - (CODE_ADDR + 10)), 0xe8, ...le32(B - (CODE_ADDR + 15)), 0x49, 0x75, 0x100 - 13];
  return h.run({ code, budget: 1_000 * passes, setup: () => { h.write(A, [0x40, 0xc3]); h.write(B, [0x43, 0xc3]); } });
}

describe('JIT block lookup', () => {
  it('two hot blocks 64 KiB apart (the same slot) are translated once each, not at every eviction', () => {
    const h = CpuHarness.flat32({ jit: true });
    const engine = h.cpu.blockEngine as JitEngine;
    const r = callTwoRoutinesInOneSlot(h, 1000);
    expect(r.exit).toBe('halt');
    expect(r.regs.eax).toBe(1000);
    expect(r.regs.ebx).toBe(1000);
    // A, B and the few blocks of the loop — before, A and B were translated again on each of
    // their 1000 visits.
    expect(engine.stats.translated).toBeLessThan(10);
  });

  it('visits are counted per instruction: two cold routines 64 KiB apart do not add up to a translation', () => {
    const h = CpuHarness.flat32();
    const engine = new JitEngine(h.cpu, h.mem, { threshold: 100 });
    // Each instruction is reached 60 times, A's and B's together 120, over the threshold.
    const r = callTwoRoutinesInOneSlot(h, 60);
    expect(r.exit).toBe('halt');
    expect(r.regs.eax).toBe(60);
    expect(r.regs.ebx).toBe(60);
    expect(engine.stats.translated).toBe(0);
  });

  it('cold straight-line code asks the engine at branch targets only, not at each instruction', () => {
    const h = CpuHarness.flat32();
    const engine = new JitEngine(h.cpu, h.mem, { threshold: 1_000_000 });
    const counts = countRunBlock(engine);
    // mov ecx, 50; L: inc eax; inc ebx; inc edx; inc esi; inc edi; nop x5; dec ecx; jnz L
    const code = [0xb9, ...le32(50), 0x40, 0x43, 0x42, 0x46, 0x47, 0x90, 0x90, 0x90, 0x90, 0x90, 0x49, 0x75, 0x100 - 13];
    const r = h.run({ code });
    expect(r.regs.eax).toBe(50);
    // 12 instructions a pass: one lookup at L each pass (and a few at the start), not 600.
    expect(counts.calls).toBeGreaterThanOrEqual(50);
    expect(counts.calls).toBeLessThan(60);
    expect(engine.stats.translated).toBe(0);
  });

  it('in a hot loop, the code after an instruction left to the interpreter (CPUID) still runs translated', () => {
    const h = CpuHarness.flat32();
    const engine = new JitEngine(h.cpu, h.mem, { threshold: 10 });
    const counts = countRunBlock(engine);
    // mov esi, 1000; L: xor eax, eax; cpuid; inc edi; inc ebp; dec esi; jnz L
    const code = [0xbe, ...le32(1000), 0x31, 0xc0, 0x0f, 0xa2, 0x47, 0x45, 0x4e, 0x75, 0x100 - 9];
    const before = h.cpu.retired;
    const r = h.run({ code, budget: 100_000 });
    expect(r.regs.edi).toBe(1000);
    // Of the 6 instructions a pass, all but CPUID run translated once the loop is hot.
    expect(counts.translated).toBeGreaterThan(0.8 * (5 / 6) * (h.cpu.retired - before));
  });

  it('a block dropped by a write to its page is translated again from the new bytes', () => {
    const h = CpuHarness.flat32({ jit: true });
    const engine = h.cpu.blockEngine as JitEngine;
    const A = CODE_ADDR + 0x20000;
    // call A; call A (A: mov eax, imm32; ret), rewriting A's immediate in between by DMA
    const code = [0xe8, ...le32(A - (CODE_ADDR + 5)), 0x89, 0xc3, 0xe8, ...le32(A - (CODE_ADDR + 12))];
    const r = h.run({
      code, budget: 1_000, setup: (cpu) => {
        h.write(A, [0xb8, ...le32(1), 0xc3]);
        // After the first call has run A's block, a device rewrites its immediate.
        const run = cpu.run.bind(cpu);
        let first = true;
        cpu.run = (n: number) => {
          const why = run(first ? 3 : n);
          if (first) h.mem.writeBytes(A + 1, new Uint8Array([2]));
          first = false;
          return why;
        };
      },
    });
    expect(r.exit).toBe('halt');
    expect(r.regs.ebx).toBe(1);
    expect(r.regs.eax).toBe(2);
    expect(engine.stats.invalidated).toBeGreaterThan(0);
  });
});
