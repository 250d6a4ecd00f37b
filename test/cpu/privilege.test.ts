/**
 * Privilege levels, from the SDM: IRET to an outer level (Vol. 2 IRET, "RETURN-TO-OUTER-
 * PRIVILEGE-LEVEL"), interrupt delivery to an inner level with the stack from the TSS (Vol. 3A
 * 6.12.1, Figure 6-4), the gate DPL check for INT n (6.12.1.1, error code vector*8+2), the
 * CPL/IOPL checks of IN, CLI, HLT and MOV CR (Vol. 1 18.2, Vol. 2 instruction pages), and LTR
 * setting the TSS busy bit (Vol. 3A 7.2.2). Also the real-mode → protected-mode switch
 * (Vol. 3A 9.9.1). Expected values are worked out from those sections by hand.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, descriptor, EFLAGS, GDT_BASE, STACK_TOP } from '../helpers/cpu-harness.js';

const { IF } = EFLAGS;
const IOPL3 = 3 << 12;

const CODE3 = 0x38;
const DATA3 = 0x40;
const TSS = 0x48;
const TSS_BASE = 0x7000;
const USER_STACK = 0x9000;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/**
 * A flat32 harness with ring-3 code/data segments and a 32-bit TSS whose ESP0 is STACK_TOP
 * and which has no I/O permission bitmap.
 */
function ringHarness(): CpuHarness {
  const h = CpuHarness.flat32();
  h.setGdtEntry(CODE3, ...descriptor(0, 0xfffff, 0xfb, 0xc)); // DPL 3 code
  h.setGdtEntry(DATA3, ...descriptor(0, 0xfffff, 0xf3, 0xc)); // DPL 3 data
  h.setGdtEntry(TSS, ...descriptor(TSS_BASE, 0x67, 0x89, 0x0)); // available 32-bit TSS
  h.write32(TSS_BASE + 4, STACK_TOP); // ESP0
  h.write32(TSS_BASE + 8, 0x10); // SS0
  h.write16(TSS_BASE + 0x66, 0x68); // I/O map base past the limit: no bitmap, every port denied
  return h;
}

/**
 * CPL 0 code that loads TR, points DS/ES/GS at the ring-3 data segment (so that they stay
 * valid across the return to ring 3, where the harness's handler writes through GS) and IRETs
 * to `user` at CPL 3 with `eflags`.
 */
function toRing3(user: number[], eflags: number): { code: number[]; userAddr: number } {
  const prologue = [
    0x66, 0xb8, TSS, 0x00, 0x0f, 0x00, 0xd8, // mov ax, TSS; ltr ax
    0x66, 0xb8, DATA3 | 3, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xe8, // mov ax, DATA3|3; mov ds/es/gs, ax
    0x6a, DATA3 | 3, // push SS
    0x68, ...le32(USER_STACK), // push ESP
    0x68, ...le32(eflags), // push EFLAGS
    0x6a, CODE3 | 3, // push CS
  ];
  const userAddr = CODE_ADDR + prologue.length + 5 + 1;
  return { code: [...prologue, 0x68, ...le32(userAddr), 0xcf, ...user], userAddr };
}

describe('ring 3 code is checked against CPL, IOPL and gate DPL', () => {
  it('IRET to ring 3 then INT n to a DPL-3 gate switches to the TSS ring-0 stack', () => {
    const h = ringHarness();
    const { code, userAddr } = toRing3([0xcd, 0x50], IF); // int 0x50
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 0x50, cs: CODE3 | 3, eip: userAddr + 2 });
    // The handler ran at CPL 0 on SS0:ESP0; the recording handler popped EIP, CS, EFLAGS and
    // left the outer SS:ESP (Figure 6-4) on the ring-0 stack.
    expect(h.cpu.cpl).toBe(0);
    expect(h.cpu.s.segSel[2]).toBe(0x10);
    expect(r.regs.esp).toBe(STACK_TOP - 8);
    expect(r.read32(STACK_TOP - 8)).toBe(USER_STACK);
    expect(r.read32(STACK_TOP - 4)).toBe(DATA3 | 3);
  });

  it('LTR marks the TSS descriptor busy', () => {
    const h = ringHarness();
    h.run({ code: [0x66, 0xb8, TSS, 0x00, 0x0f, 0x00, 0xd8] });
    expect(h.cpu.s.segSel[7]).toBe(TSS);
    expect((h.mem.read(GDT_BASE + TSS + 5, 1) & 0xf)).toBe(0xb);
  });

  it('INT n through a DPL-0 gate from ring 3 raises #GP(vector * 8 + 2)', () => {
    const h = ringHarness();
    h.setIdtGate(0x51, 0x2000 + 0x51 * 48, { dpl: 0 });
    const { code, userAddr } = toRing3([0xcd, 0x51], IF);
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0x51 * 8 + 2, cs: CODE3 | 3, eip: userAddr });
  });

  for (const [name, bytes] of [
    ['IN AL, DX', [0xec]],
    ['CLI', [0xfa]],
    ['HLT', [0xf4]],
    ['MOV CR0, EAX', [0x0f, 0x22, 0xc0]],
  ] as const) {
    it(`${name} at CPL 3 with IOPL 0 raises #GP(0)`, () => {
      const h = ringHarness();
      const { code, userAddr } = toRing3([...bytes], IF);
      const r = h.run({ code });
      expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, cs: CODE3 | 3, eip: userAddr });
    });
  }

  it('CLI at CPL 3 is allowed with IOPL 3', () => {
    const h = ringHarness();
    const { code, userAddr } = toRing3([0xfa, 0xcd, 0x50], IF | IOPL3); // cli; int 0x50
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 0x50, eip: userAddr + 3 });
    expect(r.exception!.eflags & IF).toBe(0);
  });
});

describe('the TSS I/O permission bitmap (SDM Vol. 1 18.5.2)', () => {
  function withBitmap(bits: number[]): CpuHarness {
    const h = ringHarness();
    h.setGdtEntry(TSS, ...descriptor(TSS_BASE, 0x68 + 0x20, 0x89, 0x0)); // bitmap for ports 0-255 plus the 0xFF byte
    h.write16(TSS_BASE + 0x66, 0x68);
    h.write(TSS_BASE + 0x68, bits);
    return h;
  }

  it('allows a port whose bit is clear and refuses one whose bit is set', () => {
    const bits = new Array<number>(0x20).fill(0xff);
    bits[0x80 >> 3] = 0xfe; // port 0x80 allowed, 0x81 denied
    const h = withBitmap(bits);
    const { code, userAddr } = toRing3([0xe4, 0x80, 0xe4, 0x81], IF); // in al, 0x80; in al, 0x81
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, eip: userAddr + 2 });
  });

  it('checks every byte of a word access (port 0x80 allowed, 0x81 denied)', () => {
    const bits = new Array<number>(0x20).fill(0xff);
    bits[0x80 >> 3] = 0xfe;
    const h = withBitmap(bits);
    const { code, userAddr } = toRing3([0x66, 0xe5, 0x80], IF); // in ax, 0x80
    const r = h.run({ code });
    expect(r.exception).toMatchObject({ vector: 13, errorCode: 0, eip: userAddr });
  });
});

describe('switching from real mode to protected mode', () => {
  it('LGDT, CR0.PE=1 and a far JMP to a 32-bit code segment run 32-bit code', () => {
    const h = CpuHarness.real16();
    h.write(0x3000, [0, 0, 0, 0, 0, 0, 0, 0]);
    h.write(0x3008, descriptor(0, 0xfffff, 0x9a, 0xc).flatMap(le32)); // 0x08: code
    h.write(0x3010, descriptor(0, 0xfffff, 0x92, 0xc).flatMap(le32)); // 0x10: data
    h.write(0x3100, [0x17, 0x00, ...le32(0x3000)]); // GDTR image
    const pm32 = 0x10100 + 21;
    const code = [
      0x0f, 0x01, 0x16, 0x00, 0x31, // lgdt [0x3100]
      0x0f, 0x20, 0xc0, //             mov eax, cr0
      0x0c, 0x01, //                   or al, 1
      0x0f, 0x22, 0xc0, //             mov cr0, eax
      0x66, 0xea, ...le32(pm32), 0x08, 0x00, // jmp dword 0x08:pm32
      // pm32:
      0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, // mov ax, 0x10; mov ds, ax
      0xb8, ...le32(0x12345678), //         mov eax, 0x12345678 (imm32 only in 32-bit code)
      0xa3, ...le32(0x4000), //             mov [0x4000], eax
    ];
    const r = h.run({ code, segs: { cs: 0x1000, ds: 0 }, ip: 0x100 });
    expect(r.exception).toBeUndefined();
    expect(r.exit).toBe('halt');
    expect(h.cpu.protectedMode).toBe(true);
    expect(h.cpu.cs32).toBe(true);
    expect(h.cpu.s.segSel[1]).toBe(0x08);
    expect(h.cpu.s.segSel[3]).toBe(0x10);
    expect(r.regs.eax).toBe(0x12345678);
    expect(r.read32(0x4000)).toBe(0x12345678);
  });
});
