/**
 * Virtual-8086 mode, from the SDM: entering it through IRETD at CPL 0 (Vol. 2 IRET,
 * RETURN-TO-VIRTUAL-8086-MODE; Vol. 3B 20.2.1), 8086-style addressing and segment loads
 * (20.1.1, 20.2.2), the IOPL-sensitive instructions (20.2.7), the I/O permission bitmap
 * (20.2.8.1, Vol. 1 19.5.2), interrupts and exceptions through the protected-mode IDT with the
 * ring-0 stack of Figure 20-4 (20.3.1.1, Vol. 2 INT n INTERRUPT-FROM-VIRTUAL-8086-MODE), paging
 * as user accesses (CPL 3), and the return to virtual-8086 mode from a ring-0 handler.
 * Expected values are worked out by hand from those sections.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/errors.js';
import type { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import type { X86Cpu } from '../../src/cpu/x86/cpu.js';
import type { CpuHarness } from '../helpers/cpu-harness.js';
import {
  allowPorts, CODE_ADDR, CODE_CONFORMING, CODE_DPL3, CODE3, DATA3, entryFrame, faultFrame, GDT_SELECTORS, handledVector, handlerAddr,
  IF, IOPL3, le32, NT, readFrame, RF, runVm86, STACK_TOP, TSS_BASE, TSS_SEL, V86_CS, V86_DS, V86_ES, V86_FS, V86_GS, V86_IP,
  V86_SP, V86_SS, VM, vm86Harness, vm86HarnessInterruptedAt,
} from './vm86-rig.js';

const UNUSABLE = 1 << 16;
const OF = 1 << 11;

/** Checks the state after entering the ring-0 handler from virtual-8086 mode (20.3.1.1). */
function expectRing0Entry(h: CpuHarness, espBelowTop: number): void {
  const s = h.cpu.s;
  expect(h.cpu.cpl).toBe(0);
  expect(h.cpu.protectedMode).toBe(true);
  expect(s.eflags & VM).toBe(0);
  expect(s.segSel[1]).toBe(GDT_SELECTORS.CODE32);
  expect(s.segSel[2]).toBe(GDT_SELECTORS.DATA32); // SS0 from the TSS
  expect(s.gpr[4]! >>> 0).toBe(STACK_TOP - espBelowTop); // ESP0 minus the frame
  // DS, ES, FS and GS hold null selectors (unusable until loaded).
  for (const seg of [0, 3, 4, 5]) {
    expect(s.segSel[seg]).toBe(0);
    expect(s.segAr[seg]! & UNUSABLE).toBe(UNUSABLE);
  }
}

describe('entering virtual-8086 mode with IRETD at CPL 0', () => {
  it('runs at CPL 3 with 8086-style segment caches (base = selector << 4, limit 0xFFFF)', () => {
    const h = vm86Harness();
    const r = runVm86(h, { code: [0xeb, 0xfe], eflags: IF, budget: 200 }); // jmp $
    expect(r.exit).toBe('budget');
    const cpu = h.cpu;
    expect(cpu.s.eflags & VM).toBe(VM);
    expect(cpu.protectedMode).toBe(false);
    expect(cpu.cpl).toBe(3);
    expect(cpu.cs32).toBe(false);
    expect(cpu.s.eip).toBe(V86_IP);
    expect(cpu.s.gpr[4]).toBe(V86_SP);
    const sels = [V86_ES, V86_CS, V86_SS, V86_DS, V86_FS, V86_GS];
    sels.forEach((sel, i) => {
      expect(cpu.s.segSel[i]).toBe(sel);
      expect(cpu.s.segBase[i]).toBe(sel * 16);
      expect(cpu.s.segLimit[i]).toBe(0xffff);
      expect(cpu.s.segAr[i]).toBe(0xf3); // present, DPL 3, read/write data, accessed
    });
  });

  it('addresses memory as segment * 16 + offset through every segment register', () => {
    const h = vm86Harness();
    const code = [
      0xa1, 0x10, 0x00, //             mov ax, [0x0010]        (DS: 0x50010)
      0x26, 0x8b, 0x1e, 0x20, 0x00, // mov bx, es:[0x0020]     (ES: 0x51020)
      0x01, 0xd8, //                   add ax, bx
      0xa3, 0x30, 0x00, //             mov [0x0030], ax        (0x50030)
      0x64, 0xa3, 0x40, 0x00, //       mov fs:[0x0040], ax     (0x52040)
      0x65, 0xa3, 0x50, 0x00, //       mov gs:[0x0050], ax     (0x53050)
      0x36, 0xa3, 0x00, 0x00, //       mov ss:[0x0000], ax     (0x40000)
      0xcc, //                         int3
    ];
    const r = runVm86(h, { code, mem: [{ addr: 0x50010, bytes: [0x34, 0x12] }, { addr: 0x51020, bytes: [0x01, 0x01] }] });
    expect(handledVector(h, r)).toBe(3);
    for (const a of [0x50030, 0x52040, 0x53050, 0x40000]) expect(r.read16(a)).toBe(0x1335);
    expect(readFrame(r, false)).toEqual(entryFrame(V86_IP + code.length, r.read32(r.regs.esp + 8) & 0x8d5));
  });

  it('loads segment registers real-mode style: MOV, POP, LES, far JMP, far CALL and RETF', () => {
    const h = vm86Harness();
    const code = [
      0xb8, 0x34, 0x12, //             mov ax, 0x1234   (a protected-mode selector past the GDT limit)
      0x8e, 0xd8, //                   mov ds, ax
      0xa0, 0x05, 0x00, //             mov al, [0x0005] (0x12345)
      0x68, 0x00, 0x20, //             push 0x2000
      0x07, //                         pop es
      0x26, 0xa2, 0x10, 0x00, //       mov es:[0x0010], al (0x20010)
      0xc4, 0x1e, 0x20, 0x00, //       les bx, [0x0020] (0x12360: 5678h, 2100h)
      0xea, 0x00, 0x00, 0x00, 0x31, // jmp 0x3100:0x0000
    ];
    const far = [0x9a, 0x00, 0x01, 0x00, 0x32, 0xcc]; // 0x31000: call 0x3200:0x0100 ; int3
    const callee = [0x8c, 0xc8, 0x8e, 0xe0, 0xcb]; //    0x32100: mov ax, cs ; mov fs, ax ; retf
    const r = runVm86(h, {
      code,
      mem: [
        { addr: 0x12345, bytes: [0x99] },
        { addr: 0x12360, bytes: [0x78, 0x56, 0x00, 0x21] },
        { addr: 0x31000, bytes: far },
        { addr: 0x32100, bytes: callee },
      ],
    });
    expect(handledVector(h, r)).toBe(3);
    expect(r.read(0x20010, 1)[0]).toBe(0x99);
    expect(r.regs.ebx & 0xffff).toBe(0x5678);
    expect(r.regs.eax & 0xffff).toBe(0x3200);
    const f = readFrame(r, false);
    expect(f).toMatchObject({ eip: 0x0006, cs: 0x3100, esp: V86_SP, ss: V86_SS, ds: 0x1234, es: 0x2100, fs: 0x3200, gs: V86_GS });
  });

  it('refuses a far JMP beyond the 64 KiB CS limit with #GP(0) before CS changes', () => {
    const h = vm86Harness();
    const code = [0x66, 0xea, ...le32(0x10000), 0x00, 0x31]; // jmp dword 0x3100:0x00010000
    const r = runVm86(h, { code });
    expect(handledVector(h, r)).toBe(13);
    expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP, 0), errorCode: 0 });
  });

  it('checks 32-bit addresses (0x67) against the 0xFFFF limit: #GP(0), or #SS(0) through SS', () => {
    const h = vm86Harness();
    const mem = [{ addr: 0x5fffe, bytes: [0xef, 0xbe] }];
    // mov ax, [ebx] (ebx = 0xFFFE: the last word) ; mov ax, [ebx+1]
    const r = runVm86(h, { code: [0x67, 0x8b, 0x03, 0x67, 0x8b, 0x43, 0x01], regs: { ebx: 0xfffe }, mem });
    expect(handledVector(h, r)).toBe(13);
    expect(r.regs.eax & 0xffff).toBe(0xbeef);
    expect(readFrame(r, true)).toMatchObject({ errorCode: 0, eip: V86_IP + 3 });
    const r2 = runVm86(h, { code: [0x67, 0x8b, 0x45, 0x00], regs: { ebp: 0x10000 } }); // mov ax, [ebp]
    expect(handledVector(h, r2)).toBe(12);
    expect(readFrame(r2, true)).toMatchObject({ errorCode: 0, eip: V86_IP });
  });
});

describe('events in virtual-8086 mode enter the ring-0 handler with the frame of Figure 20-4', () => {
  it('#GP from CLI at IOPL 0: ten dwords on the TSS ring-0 stack, null data segments, VM/NT/IF clear', () => {
    const h = vm86Harness();
    const eflags = IF | NT | RF | 0x1; // CF
    const code = [0xb8, 0x11, 0x11, 0xfa]; // mov ax, 0x1111 ; cli
    const r = runVm86(h, { code, eflags });
    expect(handledVector(h, r)).toBe(13);
    const f = readFrame(r, true);
    // RF = 1 in the image of a fault (SDM 18.3.1.1), whatever it was before the instruction.
    expect(f).toEqual({ ...faultFrame(V86_IP + 3, eflags & ~RF), errorCode: 0 });
    expectRing0Entry(h, 40);
    expect(h.cpu.s.eflags & (IF | NT | RF)).toBe(0);
    expect(r.regs.eax & 0xffff).toBe(0x1111);
  });

  it('a trap gate leaves IF set', () => {
    const h = vm86Harness();
    h.setIdtGate(13, handlerAddr(13), { type: 0xf });
    const r = runVm86(h, { code: [0xfb], eflags: IF }); // sti
    expect(handledVector(h, r)).toBe(13);
    expect(h.cpu.s.eflags & (IF | VM)).toBe(IF);
  });

  it('an external interrupt pushes nine dwords (no error code) and returns to the next instruction', () => {
    const h = vm86HarnessInterruptedAt(0x50, V86_IP + 3);
    h.setIdtGate(0x50, handlerAddr(0x50), { dpl: 0 }); // the gate DPL does not apply to hardware interrupts
    const r = runVm86(h, { code: [0xb8, 0x22, 0x22, 0xb9, 0x33, 0x33, 0xcc], eflags: IF }); // mov ax ; mov cx ; int3
    expect(handledVector(h, r)).toBe(0x50);
    expect(readFrame(r, false)).toEqual(entryFrame(V86_IP + 3, IF));
    expectRing0Entry(h, 36);
    expect(h.cpu.s.eflags & IF).toBe(0);
    expect(r.regs.eax & 0xffff).toBe(0x2222);
    expect(r.regs.ecx & 0xffff).toBe(0);
  });

  it('a handler IRETDs back to virtual-8086 mode with the segment registers restored', () => {
    for (const jit of [false, true]) {
      const h = vm86Harness({ jit });
      // The #GP handler emulates CLI/STI as no-ops: drop the error code, step over the byte, IRETD.
      h.write(handlerAddr(13), [0x83, 0xc4, 0x04, 0xff, 0x04, 0x24, 0xcf]);
      const code = [
        0xb8, 0x01, 0x00, // mov ax, 1
        0xfa, //             cli      (#GP, skipped by the monitor)
        0xa1, 0x10, 0x00, // mov ax, [0x0010]  (needs DS back: 0x50010)
        0xfb, //             sti      (#GP, skipped)
        0x05, 0x01, 0x00, // add ax, 1
        0xcc, //             int3
      ];
      const r = runVm86(h, { code, eflags: IF, mem: [{ addr: 0x50010, bytes: [0x21, 0x43] }] });
      expect(handledVector(h, r)).toBe(3);
      expect(r.regs.eax & 0xffff).toBe(0x4322);
      const f = readFrame(r, false);
      expect({ ...f, eflags: f.eflags & ~0x8d5 }).toEqual(entryFrame(V86_IP + code.length, IF));
      expectRing0Entry(h, 36);
    }
  });
});

/**
 * 16-bit interrupt and trap gates (Vol. 2 INT n, INTERRUPT-FROM-VIRTUAL-8086-MODE: "pushes are
 * 16 bits for 16-bit IDT gates", room for 18 or 20 bytes; QEMU pushes the same words): the
 * frame of Figure 20-4 as words — IP, CS, FLAGS, SP, SS, ES, DS, FS, GS from the bottom.
 */
describe('events from virtual-8086 mode through 16-bit gates push the frame as words', () => {
  /** A HLT within the gate's 16-bit offset range (the rig's handlers lie above 64 KiB). */
  const HANDLER16 = 0x6000;

  function words(r: ReturnType<typeof runVm86>, count: number): number[] {
    return Array.from({ length: count }, (_, i) => r.read16(r.regs.esp + 2 * i));
  }

  it('INT n through a 16-bit interrupt gate: nine words on the ring-0 stack, null data segments, IF clear', () => {
    const h = vm86Harness();
    h.write(HANDLER16, [0xf4]);
    h.setIdtGate(0x42, HANDLER16, { type: 0x6 });
    const r = runVm86(h, { code: [0xcd, 0x42], eflags: IOPL3 | IF });
    expect(r.exit).toBe('halt');
    expect(r.eip).toBe(HANDLER16 + 1);
    expectRing0Entry(h, 18);
    expect(words(r, 9)).toEqual([V86_IP + 2, V86_CS, (IOPL3 | IF | 2) & 0xffff, V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS]);
    expect(h.cpu.s.eflags & (IF | VM)).toBe(0);
  });

  it('#GP from CLI at IOPL 0 through a 16-bit trap gate: ten words with the error code, IF kept', () => {
    const h = vm86Harness();
    h.write(HANDLER16, [0xf4]);
    h.setIdtGate(13, HANDLER16, { type: 0x7 });
    const r = runVm86(h, { code: [0xfa], eflags: IF });
    expect(r.eip).toBe(HANDLER16 + 1);
    expectRing0Entry(h, 20);
    // The FLAGS image of a fault has RF in EFLAGS bit 16, outside the word: not pushed.
    expect(words(r, 10)).toEqual([0, V86_IP, V86_CS, (IF | 2) & 0xffff, V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS]);
    expect(h.cpu.s.eflags & (IF | VM)).toBe(IF);
  });

  it('an external interrupt through a 16-bit gate: nine words, returning to the interrupted instruction', () => {
    const h = vm86HarnessInterruptedAt(0x51, V86_IP + 1);
    h.write(HANDLER16, [0xf4]);
    h.setIdtGate(0x51, HANDLER16, { type: 0x6, dpl: 0 });
    const r = runVm86(h, { code: [0x90, 0x90, 0xcc], eflags: IF });
    expect(r.eip).toBe(HANDLER16 + 1);
    expectRing0Entry(h, 18);
    expect(words(r, 9)).toEqual([V86_IP + 1, V86_CS, (IF | 2) & 0xffff, V86_SP, V86_SS, V86_ES, V86_DS, V86_FS, V86_GS]);
  });

  it('the room checked is 18 bytes (not 36): SS0:ESP0 = DATA_SMALL:18 holds the frame; 16 bytes shut down', () => {
    for (const esp0 of [18, 16]) {
      const h = vm86Harness();
      h.write(HANDLER16, [0xf4]);
      h.setIdtGate(0x42, HANDLER16, { type: 0x6 });
      // The TSS's ring-0 stack: a DPL-0 data segment whose offsets end at its limit 0xFFF.
      h.write32(TSS_BASE + 4, esp0);
      h.write32(TSS_BASE + 8, GDT_SELECTORS.DATA_SMALL);
      const r = runVm86(h, { code: [0xcd, 0x42], eflags: IOPL3 });
      if (esp0 === 18) {
        expect(r.eip).toBe(HANDLER16 + 1);
        expect(r.regs.esp).toBe(0);
        expect(r.read16(0)).toBe(V86_IP + 2);
      } else {
        // #SS(SS0 + EXT) cannot be delivered on that stack either: #DF, then shutdown.
        expect(r.exit).toBe('triple-fault');
      }
    }
  });
});

describe('IOPL-sensitive instructions (SDM 20.2.7)', () => {
  const sensitive: [string, number[]][] = [
    ['CLI', [0xfa]],
    ['STI', [0xfb]],
    ['PUSHF', [0x9c]],
    ['PUSHFD', [0x66, 0x9c]],
    ['POPF', [0x9d]],
    ['POPFD', [0x66, 0x9d]],
    ['INT 21h', [0xcd, 0x21]],
    ['IRET', [0xcf]],
    ['IRETD', [0x66, 0xcf]],
  ];
  for (const [name, bytes] of sensitive) {
    for (const iopl of [0, 2]) {
      it(`${name} with IOPL ${iopl} raises #GP(0) at the instruction, the stack untouched`, () => {
        const h = vm86Harness();
        const eflags = IF | (iopl << 12);
        const r = runVm86(h, { code: [0x90, ...bytes], eflags });
        expect(handledVector(h, r)).toBe(13);
        expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP + 1, eflags), errorCode: 0 });
      });
    }
  }

  it('with IOPL 3, PUSHF/POPF work on the flags but leave IOPL and VM alone', () => {
    const h = vm86Harness();
    const code = [
      0x66, 0x9c, 0x66, 0x58, //                   pushfd ; pop eax
      0x66, 0x68, ...le32(0x00000002), 0x66, 0x9d, // push dword 2 ; popfd  (IOPL 0, IF 0, VM 0)
      0x66, 0x9c, 0x66, 0x5b, //                   pushfd ; pop ebx
      0x68, 0xd5, 0x08, 0x9d, //                   push 0x08D5 ; popf   (OF SF ZF AF PF CF, IOPL 0)
      0x9c, 0x59, //                               pushf ; pop cx
      0xcc, //                                     int3
    ];
    const r = runVm86(h, { code, eflags: IOPL3 | IF });
    expect(handledVector(h, r)).toBe(3);
    // PUSHFD stores EFLAGS AND 00FCFFFFh: VM (and RF) read as 0 in the image.
    expect(r.regs.eax).toBe(0x3202);
    expect(r.regs.ebx).toBe(0x3002); // IF cleared, IOPL kept
    expect(r.regs.ecx & 0xffff).toBe(0x38d7);
    expect(readFrame(r, false)).toEqual(entryFrame(V86_IP + code.length, 0x38d7));
  });

  it('with IOPL 3, IRETD and IRET return 8086-style and leave IOPL and VM alone', () => {
    const h = vm86Harness();
    const code = [
      0x66, 0x68, ...le32(0x2), 0x66, 0x68, ...le32(0x3100), 0x66, 0x68, ...le32(0x10), // EFLAGS, CS, EIP
      0x66, 0xcf, //                                                                       iretd
    ];
    // 0x31010: push 0x08D5 ; push 0x3100 ; push 0x0020 ; iret   0x31020: int3
    const far = [0x68, 0xd5, 0x08, 0x68, 0x00, 0x31, 0x68, 0x20, 0x00, 0xcf];
    const r = runVm86(h, { code, eflags: IOPL3 | IF, mem: [{ addr: 0x31010, bytes: far }, { addr: 0x31020, bytes: [0xcc] }] });
    expect(handledVector(h, r)).toBe(3);
    expect(readFrame(r, false)).toEqual({ ...entryFrame(0x21, IOPL3 | 0x8d5), cs: 0x3100 });
  });

  it('IRETD to an EIP past 0xFFFF raises #GP(0) with nothing popped', () => {
    const h = vm86Harness();
    const code = [0x66, 0x68, ...le32(0x2), 0x66, 0x68, ...le32(0x3100), 0x66, 0x68, ...le32(0x10000), 0x66, 0xcf];
    const r = runVm86(h, { code, eflags: IOPL3 | IF });
    expect(handledVector(h, r)).toBe(13);
    expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP + 18, IOPL3 | IF, V86_SP - 12), errorCode: 0 });
  });

  it('with IOPL 3, INT n goes through the protected-mode IDT (not the IVT) and returns after the INT', () => {
    const h = vm86Harness();
    const code = [0xcd, 0x21]; // int 0x21
    const r = runVm86(h, { code, eflags: IOPL3 | IF, mem: [{ addr: 0x21 * 4, bytes: [0x00, 0x05, 0x00, 0x00] }] });
    expect(handledVector(h, r)).toBe(0x21);
    expect(readFrame(r, false)).toEqual(entryFrame(V86_IP + 2, IOPL3 | IF));
    expectRing0Entry(h, 36);
  });

  it('INT n to a gate with DPL < 3 raises #GP(vector * 8 + 2)', () => {
    const h = vm86Harness();
    h.setIdtGate(0x21, handlerAddr(0x21), { dpl: 0 });
    const r = runVm86(h, { code: [0xcd, 0x21], eflags: IOPL3 });
    expect(handledVector(h, r)).toBe(13);
    expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP, IOPL3), errorCode: 0x21 * 8 + 2 });
  });

  it('INT3 and INTO are not IOPL-sensitive: they reach the IDT at IOPL 0, subject to the gate DPL', () => {
    const h = vm86Harness();
    const r = runVm86(h, { code: [0xcc] });
    expect(handledVector(h, r)).toBe(3);
    expect(readFrame(r, false)).toEqual(entryFrame(V86_IP + 1, 0));
    const r2 = runVm86(h, { code: [0xce], eflags: OF }); // into
    expect(handledVector(h, r2)).toBe(4);
    expect(readFrame(r2, false)).toEqual(entryFrame(V86_IP + 1, OF));
    h.setIdtGate(3, handlerAddr(3), { dpl: 0 });
    const r3 = runVm86(h, { code: [0xcc] });
    expect(handledVector(h, r3)).toBe(13);
    expect(readFrame(r3, true)).toMatchObject({ errorCode: 3 * 8 + 2, eip: V86_IP });
  });
});

describe('handler checks for events from virtual-8086 mode (20.3.1.1)', () => {
  const cases: [string, { type?: number; selector?: number }, number][] = [
    ['a DPL-3 code segment', { selector: CODE_DPL3 }, CODE_DPL3],
    ['a conforming code segment', { selector: CODE_CONFORMING }, CODE_CONFORMING],
  ];
  for (const [name, gate, err] of cases) {
    it(`INT n through ${name} raises #GP(${err.toString(16)}h)`, () => {
      const h = vm86Harness();
      h.setIdtGate(0x42, 0x1000, gate);
      const r = runVm86(h, { code: [0xcd, 0x42], eflags: IOPL3 });
      expect(handledVector(h, r)).toBe(13);
      expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP, IOPL3), errorCode: err });
    });
  }
});

describe('I/O in virtual-8086 mode is checked against the TSS bitmap whatever IOPL is (20.2.8.1)', () => {
  for (const iopl of [3, 0]) {
    it(`IN/OUT with IOPL ${iopl}: allowed ports work, a word touching a denied port raises #GP(0)`, () => {
      const h = vm86Harness();
      const writes: [number, number][] = [];
      h.io.map('probe', 0x80, 4, { ioRead: (off) => 0x5a + off, ioWrite: (off, _size, v) => void writes.push([0x80 + off, v]) });
      allowPorts(h, 0x80, 0x82, 0x83);
      const code = [
        0xe4, 0x80, //       in al, 0x80
        0xe6, 0x82, //       out 0x82, al
        0xba, 0x82, 0x00, // mov dx, 0x82
        0xed, //             in ax, dx   (0x82, 0x83)
        0x89, 0xc3, //       mov bx, ax
        0xe5, 0x80, //       in ax, 0x80 (0x81 denied)
      ];
      const eflags = IF | (iopl << 12);
      const r = runVm86(h, { code, eflags });
      expect(handledVector(h, r)).toBe(13);
      expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP + 10, eflags), errorCode: 0 });
      expect(writes).toEqual([[0x82, 0x5a]]);
      expect(r.regs.ebx & 0xffff).toBe(0x5d5c);
    });
  }

  it('INS to an allowed port works and OUTS to a denied one raises #GP(0)', () => {
    const h = vm86Harness();
    h.io.map('probe', 0x80, 2, { ioRead: () => 0x5a, ioWrite: () => undefined });
    allowPorts(h, 0x80);
    const code = [
      0xbf, 0x00, 0x00, // mov di, 0
      0xba, 0x80, 0x00, // mov dx, 0x80
      0x6c, //             insb  (ES:DI = 0x51000)
      0xba, 0x81, 0x00, // mov dx, 0x81
      0x6e, //             outsb
    ];
    const r = runVm86(h, { code, eflags: IOPL3 });
    expect(handledVector(h, r)).toBe(13);
    expect(readFrame(r, true)).toMatchObject({ errorCode: 0, eip: V86_IP + 10 });
    expect(r.read(0x51000, 1)[0]).toBe(0x5a);
    expect(r.regs.edi & 0xffff).toBe(1);
  });
});

describe('paging treats virtual-8086 accesses as user-mode accesses (CPL 3)', () => {
  const PD = 0x90000;
  const PT = 0x91000;
  // mov eax, PD ; mov cr3, eax ; mov eax, cr0 ; or eax, 80000000h ; mov cr0, eax
  const pagingOn = [0xb8, ...le32(PD), 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, ...le32(0x80000000), 0x0f, 0x22, 0xc0];
  function tables(): { addr: number; bytes: number[] }[] {
    const pte: number[] = [];
    for (let i = 0; i < 512; i++) {
      let flags = 0x7; // present, writable, user
      if (i === 0x50) flags = 0x3; // 0x50000 (V86_DS): supervisor only
      if (i === 0x51) flags = 0x5; // 0x51000 (V86_ES): user, read-only
      pte.push(...le32(i * 4096 + flags));
    }
    return [{ addr: PD, bytes: le32(PT | 0x7) }, { addr: PT, bytes: pte }];
  }

  it('a read of a supervisor page raises #PF with U/S = 1 in the error code', () => {
    const h = vm86Harness();
    const r = runVm86(h, { prologue: pagingOn, code: [0xa1, 0x10, 0x00], mem: tables() }); // mov ax, [0x0010]
    expect(handledVector(h, r)).toBe(14);
    expect(readFrame(r, true)).toEqual({ ...faultFrame(V86_IP, 0), errorCode: 0x5 }); // P | U
    expect(h.cpu.s.cr2).toBe(0x50010);
  });

  it('a write to a read-only user page raises #PF(P | W | U); reading it is allowed', () => {
    const h = vm86Harness();
    // mov ax, es:[0x0020] ; mov es:[0x0020], ax
    const r = runVm86(h, { prologue: pagingOn, code: [0x26, 0xa1, 0x20, 0x00, 0x26, 0xa3, 0x20, 0x00], mem: [...tables(), { addr: 0x51020, bytes: [0x11, 0x22] }] });
    expect(handledVector(h, r)).toBe(14);
    expect(readFrame(r, true)).toMatchObject({ errorCode: 0x7, eip: V86_IP + 4 });
    expect(h.cpu.s.cr2).toBe(0x51020);
    expect(r.regs.eax & 0xffff).toBe(0x2211);
  });
});

describe('instructions that need CPL 0 or protected mode', () => {
  const cases: [string, number[], number][] = [
    ['HLT', [0xf4], 13],
    ['MOV CR0, EAX', [0x0f, 0x22, 0xc0], 13],
    ['LGDT', [0x0f, 0x01, 0x16, 0x00, 0x00], 13],
    ['RDMSR', [0x0f, 0x32], 13],
    ['SLDT', [0x0f, 0x00, 0xc0], 6],
    ['ARPL', [0x63, 0xc0], 6],
  ];
  for (const [name, bytes, vector] of cases) {
    it(`${name} raises ${vector === 13 ? '#GP(0)' : '#UD'} in virtual-8086 mode`, () => {
      const h = vm86Harness();
      const r = runVm86(h, { code: bytes });
      expect(handledVector(h, r)).toBe(vector);
      expect(readFrame(r, vector === 13)).toMatchObject({ eip: V86_IP, cs: V86_CS, eflags: VM | RF | 2 }); // a fault: RF = 1
    });
  }
});

describe('only CPL 0 can set VM', () => {
  it('IRETD at CPL 3 with VM = 1 in the image stays in protected mode', () => {
    const h = vm86Harness();
    const ring3 = CODE_ADDR + 27;
    const target = ring3 + 12;
    const code = [
      0x66, 0xb8, TSS_SEL, 0x00, 0x0f, 0x00, 0xd8, // ltr
      0x6a, DATA3 | 3, 0x68, ...le32(0x7ff00), 0x68, ...le32(0x2), 0x6a, CODE3 | 3, 0x68, ...le32(ring3), 0xcf, // to ring 3
      // ring3: push dword VM|2 ; push cs ; push target ; iretd
      0x68, ...le32(VM | 2), 0x0e, 0x68, ...le32(target), 0xcf,
      0xcc, // target: int3
    ];
    const r = h.run({ code });
    expect(handledVector(h, r)).toBe(3);
    // Inter-privilege frame (SDM Vol. 3A Figure 6-4): EIP, CS, EFLAGS, ESP, SS.
    expect(r.regs.esp).toBe(STACK_TOP - 20);
    expect(r.read32(r.regs.esp)).toBe(target + 1);
    expect(r.read32(r.regs.esp + 4) & 0xffff).toBe(CODE3 | 3);
    expect(r.read32(r.regs.esp + 8)).toBe(0x2); // VM stayed 0
    expect(r.read32(r.regs.esp + 12)).toBe(0x7ff00);
  });

  it('POPFD at CPL 0 does not set VM', () => {
    const h = vm86Harness();
    const r = h.run({ code: [0x68, ...le32(VM | 2), 0x9d, 0x9c, 0x58] }); // push ; popfd ; pushfd ; pop eax
    expect(r.exit).toBe('halt');
    expect(r.regs.eax).toBe(2);
    expect(h.cpu.protectedMode).toBe(true);
  });
});

describe('snapshots of a CPU in virtual-8086 mode', () => {
  // L: inc word [0x0000] ; inc cx ; jmp L
  const loop = [0xff, 0x06, 0x00, 0x00, 0x41, 0xeb, 0xf9];

  it('save, load into a fresh CPU and run on: the same state as the original', () => {
    const h = vm86Harness();
    const r = runVm86(h, { code: loop, budget: 1000 });
    expect(r.exit).toBe('budget');
    expect(h.cpu.s.eflags & VM).toBe(VM);
    const saved = JSON.parse(JSON.stringify(h.cpu.saveState())) as unknown;
    const h2 = vm86Harness();
    h2.mem.ram.set(h.mem.ram);
    h2.cpu.loadState(saved, h.cpu.stateVersion);
    expect(h2.cpu.protectedMode).toBe(false);
    expect(h2.cpu.cpl).toBe(3);
    expect(h2.cpu.tlbSet).toBe(h.cpu.tlbSet);
    h.cpu.run(500);
    h2.cpu.run(500);
    expect(h2.cpu.saveState()).toEqual(h.cpu.saveState());
    expect(h2.mem.read(0x50000, 2)).toBe(h.mem.read(0x50000, 2));
    expect(h2.mem.read(0x50000, 2)).toBeGreaterThan(0);
  });

  it('refuses EFLAGS.VM without CR0.PE or with EFER.LMA', () => {
    const h = vm86Harness();
    runVm86(h, { code: loop, budget: 100 });
    const saved = h.cpu.saveState();
    const fresh = vm86Harness().cpu;
    expect(() => fresh.loadState({ ...saved, cr0: saved.cr0 & ~1 }, h.cpu.stateVersion)).toThrow(SnapshotError);
    expect(() => fresh.loadState({ ...saved, efer: saved.efer | (1 << 10) }, h.cpu.stateVersion)).toThrow(SnapshotError);
  });
});

describe('the JIT leaves virtual-8086 code to the interpreter', () => {
  it('a VM86 loop gives the interpreter\'s result and is never translated', () => {
    const code = [
      0xb9, 0x00, 0x01, // mov cx, 0x100
      0x31, 0xc0, //       xor ax, ax
      0x31, 0xdb, //       xor bx, bx
      0x01, 0xc8, //       L: add ax, cx
      0x89, 0x07, //       mov [bx], ax
      0x83, 0xc3, 0x02, // add bx, 2
      0xe2, 0xf7, //       loop L
      0xcc, //             int3
    ];
    const interp = vm86Harness();
    const a = runVm86(interp, { code });
    const jitH = vm86Harness({ jit: true });
    const engine = jitH.cpu.blockEngine as JitEngine;
    const internals = engine as unknown as { translate: (cpu: X86Cpu, ...rest: unknown[]) => unknown };
    const translate = internals.translate.bind(engine);
    let translatedInVm86 = 0;
    internals.translate = (cpu, ...rest) => {
      if (cpu.s.eflags & VM) translatedInVm86++;
      return translate(cpu, ...rest);
    };
    const b = runVm86(jitH, { code });
    expect(handledVector(interp, a)).toBe(3);
    expect(handledVector(jitH, b)).toBe(3);
    expect(a.regs.eax & 0xffff).toBe(0x8080); // 1 + 2 + … + 256
    expect(b.regs).toEqual(a.regs);
    expect(readFrame(b, false)).toEqual(readFrame(a, false));
    expect(b.read(0x50000, 0x200)).toEqual(a.read(0x50000, 0x200));
    expect(engine.stats.translated).toBeGreaterThan(0); // the ring-0 code was translated
    expect(translatedInVm86).toBe(0);
  });
});
