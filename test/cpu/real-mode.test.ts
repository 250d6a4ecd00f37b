/**
 * Real-address mode, from the SDM (Vol. 3A 20.1 "Real-address mode"; Vol. 1 3.3.6 and Vol. 2
 * 2.1.5 for the address forms; Vol. 3A 20.1.4 for interrupt delivery through the IVT):
 * linear = selector * 16 + offset, 16-bit offsets wrap at 64 KiB, BP-based forms default to
 * SS, the 0x66/0x67 prefixes select 32-bit operands/addresses, an offset past 0xFFFF faults,
 * and INT n pushes FLAGS, CS, IP and clears IF and TF. The expected values are worked out from
 * those rules by hand, not taken from the implementation.
 */
import { describe, expect, it } from 'vitest';
import { CpuHarness, EFLAGS } from '../helpers/cpu-harness.js';

const { CF, ZF, IF, TF } = EFLAGS;

describe('real mode addressing follows selector * 16 + offset', () => {
  const h = CpuHarness.real16();

  it('adds DS * 16 to a direct offset', () => {
    const r = h.run({
      code: [0xa0, 0x10, 0x00], // mov al, [0x0010]
      segs: { ds: 0x1234 },
      mem: [{ addr: 0x12350, bytes: [0x5a] }, { addr: 0x00010, bytes: [0x11] }, { addr: 0x12340, bytes: [0x22] }],
    });
    expect(r.exit).toBe('halt');
    expect(r.regs.eax & 0xff).toBe(0x5a);
  });

  it('wraps a 16-bit effective address at 64 KiB (BX + SI = 0x10010 → 0x0010)', () => {
    const r = h.run({
      code: [0x8a, 0x00], // mov al, [bx+si]
      segs: { ds: 0x2000 },
      regs: { ebx: 0xfff0, esi: 0x0020 },
      mem: [{ addr: 0x20010, bytes: [0x77] }, { addr: 0x30010, bytes: [0x88] }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax & 0xff).toBe(0x77);
  });

  it('uses SS for BP-based forms and DS otherwise, unless overridden', () => {
    const r = h.run({
      code: [
        0x8b, 0x46, 0x02, // mov ax, [bp+2]      → SS
        0x8b, 0x1f, //       mov bx, [bx]        → DS
        0x26, 0x8b, 0x0e, 0x04, 0x00, // mov cx, es:[0x0004]
        0x3e, 0x8b, 0x56, 0x00, //      mov dx, ds:[bp+0]
      ],
      segs: { ss: 0x3000, ds: 0x4000, es: 0x5000 },
      regs: { ebp: 0x0010, ebx: 0x0020 },
      mem: [
        { addr: 0x30012, bytes: [0x34, 0x12] },
        { addr: 0x40020, bytes: [0x78, 0x56] },
        { addr: 0x50004, bytes: [0xbc, 0x9a] },
        { addr: 0x40010, bytes: [0xf0, 0xde] },
      ],
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax & 0xffff).toBe(0x1234);
    expect(r.regs.ebx & 0xffff).toBe(0x5678);
    expect(r.regs.ecx & 0xffff).toBe(0x9abc);
    expect(r.regs.edx & 0xffff).toBe(0xdef0);
  });

  it('0x66 makes an instruction use 32-bit operands in 16-bit code', () => {
    const r = h.run({
      code: [
        0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
        0x66, 0x01, 0xd9, //                    add ecx, ebx (32-bit: no carry out of bit 15)
        0x01, 0xda, //                          add dx, bx   (16-bit: carry, upper half kept)
      ],
      regs: { ecx: 0x0000ffff, edx: 0xabcdffff, ebx: 1 },
    });
    expect(r.regs.eax).toBe(0x12345678);
    expect(r.regs.ecx).toBe(0x00010000);
    expect(r.regs.edx).toBe(0xabcd0000);
    expect(r.eflags & (CF | ZF)).toBe(CF | ZF); // from the 16-bit add
  });

  it('0x67 makes an instruction use 32-bit addressing (SIB) in 16-bit code', () => {
    const r = h.run({
      code: [0x67, 0x8a, 0x04, 0x4b], // mov al, [ebx+ecx*2]
      segs: { ds: 0x1000 },
      regs: { ebx: 0x00000100, ecx: 0x10 },
      mem: [{ addr: 0x10120, bytes: [0x42] }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax & 0xff).toBe(0x42);
  });

  it('raises #GP (vector 13) for a 32-bit offset past the 0xFFFF segment limit', () => {
    const r = h.run({
      code: [0x90, 0x67, 0x8a, 0x03], // nop; mov al, [ebx]
      segs: { ds: 0x1000 },
      regs: { ebx: 0x00010000 },
    });
    expect(r.exception).toMatchObject({ vector: 13, cs: 0x1000, eip: 0x101 });
  });

  it('raises #SS (vector 12) when the offending offset is SS-relative', () => {
    const r = h.run({
      code: [0x67, 0x8b, 0x45, 0x00], // mov ax, [ebp+0]
      regs: { ebp: 0x00010000 },
    });
    expect(r.exception).toMatchObject({ vector: 12, cs: 0x1000, eip: 0x100 });
  });

  it('raises #DE (vector 0) for DIV by zero with the DIV instruction as the return address', () => {
    const r = h.run({ code: [0x90, 0xf6, 0xf3], regs: { eax: 0x1234, ebx: 0 } }); // nop; div bl
    expect(r.exception).toMatchObject({ vector: 0, cs: 0x1000, eip: 0x101 });
    expect(r.regs.eax).toBe(0x1234);
  });
});

describe('real mode interrupts go through the IVT', () => {
  it('INT n pushes FLAGS, CS and IP, clears IF and TF, and jumps to the IVT vector', () => {
    const h = CpuHarness.real16();
    h.setIvtEntry(0x21, 0x2000, 0x0050);
    h.write(0x20050, [0x9c, 0x58]); // handler: pushf; pop ax; then the HLT below
    h.write(0x20052, [0xf4]);
    const flagsIn = IF | TF | CF | 0x2;
    const r = h.run({ code: [0xcd, 0x21], eflags: flagsIn, regs: { esp: 0x7000 } });
    expect(r.exception).toBeUndefined();
    expect(r.exit).toBe('halt');
    // The handler ran at 2000:0050 and halted after its third byte.
    expect(r.eip).toBe(0x0053);
    expect(h.cpu.s.segSel[1]).toBe(0x2000);
    // Inside the handler IF and TF are clear, the arithmetic flags are kept.
    expect(r.regs.eax & (IF | TF)).toBe(0);
    expect(r.regs.eax & CF).toBe(CF);
    // The frame: IP of the next instruction, then CS, then FLAGS as they were.
    expect(r.regs.esp & 0xffff).toBe(0x7000 - 6);
    expect(r.read16(0x6ffa)).toBe(0x0102);
    expect(r.read16(0x6ffc)).toBe(0x1000);
    expect(r.read16(0x6ffe) & (IF | TF | CF)).toBe(IF | TF | CF);
  });

  it('IRET returns after the INT and restores FLAGS', () => {
    const h = CpuHarness.real16();
    h.setIvtEntry(0x21, 0x2000, 0x0050);
    h.write(0x20050, [0x9c, 0x5a, 0xcf]); // handler: pushf; pop dx; iret
    const r = h.run({
      code: [0xcd, 0x21, 0x9c, 0x59], // int 0x21; pushf; pop cx
      eflags: IF | CF | ZF,
      regs: { esp: 0x7000 },
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.edx & IF).toBe(0);
    expect(r.regs.ecx & (IF | CF | ZF)).toBe(IF | CF | ZF);
    expect(r.regs.esp & 0xffff).toBe(0x7000);
    expect(r.eip).toBe(0x100 + 4 + 1); // past the appended HLT
    expect(h.cpu.s.segSel[1]).toBe(0x1000);
  });

  it('a far JMP loads CS with base selector * 16', () => {
    const h = CpuHarness.real16();
    h.write(0x23450 + 0x10, [0xb0, 0x99, 0xf4]); // at 2345:0010: mov al, 0x99; hlt
    const r = h.run({ code: [0xea, 0x10, 0x00, 0x45, 0x23] }); // jmp 0x2345:0x0010
    expect(r.exception).toBeUndefined();
    expect(r.regs.eax & 0xff).toBe(0x99);
    expect(h.cpu.s.segSel[1]).toBe(0x2345);
    expect(h.cpu.s.segBase[1]).toBe(0x23450);
  });

  it('a far JMP, CALL or RETF to an offset past the CS limit raises #GP(0) before CS changes (SDM JMP, CALL, RET)', () => {
    const h = CpuHarness.real16();
    const far = [0x00, 0x00, 0x01, 0x00, 0x45, 0x23]; // 2345:00010000
    const cases: [number[], number][] = [
      [[0x66, 0xea, ...far], 0x100], // jmp dword 2345:00010000
      [[0x66, 0x9a, ...far], 0x100], // call dword 2345:00010000
      [[0x66, 0x68, 0x45, 0x23, 0x00, 0x00, 0x66, 0x68, 0x00, 0x00, 0x01, 0x00, 0x66, 0xcb], 0x10c], // push; push; retfd
    ];
    for (const [code, faultIp] of cases) {
      const r = h.run({ code, regs: { esp: 0x7000 } });
      expect(r.exception).toMatchObject({ vector: 13, cs: 0x1000, eip: faultIp });
    }
  });
});
