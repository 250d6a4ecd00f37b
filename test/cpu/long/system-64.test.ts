/**
 * IA-32e system behaviour (SDM Vol. 3A 2.2, 5.8.8, 6.14, 9.8.5; Vol. 2 SYSCALL, SYSRET,
 * SWAPGS, IRET, MOV CR, WRMSR): entering long mode through CR4.PAE / EFER.LME / CR0.PG, the
 * #GP checks of those transitions, compatibility mode, RIP-relative addressing, SYSCALL/SYSRET,
 * SWAPGS and the FS/GS base MSRs, 64-bit interrupt delivery with privilege change and IST,
 * IRETQ, and canonical-address faults. Bytes assembled with nasm.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, descriptor } from '../../helpers/cpu-harness.js';
import {
  DATA_ADDR, HIGH_ALIAS, IST1_TOP, LongModeHarness, RSP0_TOP, SEL64, STACK_TOP, TSS64_BASE, le64,
} from '../../helpers/cpu-harness64.js';

const h = LongModeHarness.flat64();
const IF = 0x200;

describe('entering IA-32e mode (SDM 9.8.5)', () => {
  it('PAE, CR3, EFER.LME, then CR0.PG activates compatibility mode; a far jump to an L=1 segment enters 64-bit mode', () => {
    const pm = CpuHarness.flat32();
    // 64-bit code segment at 0x30; 4-level tables at 0x20000 identity-mapping the first 2 MiB.
    pm.setGdtEntry(0x30, ...descriptor(0, 0xfffff, 0x9b, 0xa));
    pm.write(0x20000, le64(0x21007n));
    pm.write(0x21000, le64(0x22007n));
    pm.write(0x22000, le64(0x87n));
    // mov eax,cr4; or eax,0x20; mov cr4,eax; mov eax,0x20000; mov cr3,eax; mov ecx,0xc0000080; rdmsr;
    // or eax,0x100; wrmsr; mov eax,cr0; or eax,0x80000000; mov cr0,eax; mov ebx,0x11111111;
    // jmp 0x30:t64; t64 (64-bit): mov rax,0x123456789; mov ecx,0xc0000080; rdmsr; mov rdx,rsp; push rax; pop rsi
    const code = [0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, 0xb8, 0x00, 0x00, 0x02, 0x00, 0x0f, 0x22, 0xd8, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0, 0xbb, 0x11, 0x11, 0x11, 0x11, 0xea, 0x36, 0x00, 0x10, 0x00, 0x30, 0x00, 0x48, 0xb8, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x48, 0x89, 0xe2, 0x50, 0x5e];
    const r = pm.run({ code });
    expect(r.exception).toBeUndefined();
    expect(r.exit).toBe('halt');
    expect(pm.cpu.mode64).toBe(true);
    expect(r.regs.eax).toBe(0x500); // EFER: LME | LMA
    expect(r.regs.ebx).toBe(0x11111111); // set in compatibility mode, before the far jump
    expect(pm.cpu.s.gpr[6]).toBe(0x500); // RSI: RAX (EFER, zero-extended by RDMSR) through a 64-bit push/pop
    expect(r.regs.edx).toBe(0x80000); // MOV RDX, RSP
    expect(pm.cpu.s.gprHi[2]).toBe(0);
  });

  it('CR0.PG with EFER.LME but without CR4.PAE is #GP(0)', () => {
    const pm = CpuHarness.flat32();
    const r = pm.run({ code: [0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00, 0x80, 0x0f, 0x22, 0xc0] });
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.errorCode).toBe(0);
    expect(r.exception?.eip).toBe(CODE_ADDR + 22);
    expect(pm.cpu.lma).toBe(false);
  });

  it('changing EFER.LME while paging is on, clearing CR4.PAE while LMA = 1, clearing CR0.PG in 64-bit mode: #GP(0)', () => {
    for (const code of [
      [0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x25, 0xff, 0xfe, 0xff, 0xff, 0x0f, 0x30],
      [0x0f, 0x20, 0xe0, 0x83, 0xe0, 0xdf, 0x0f, 0x22, 0xe0],
      [0x0f, 0x20, 0xc0, 0x0f, 0xba, 0xf0, 0x1f, 0x0f, 0x22, 0xc0],
    ]) {
      const r = h.run({ code });
      expect(r.exception?.vector).toBe(13);
      expect(r.exception?.errorCode).toBe(0n);
      expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + code.length - (code[code.length - 2] === 0x0f && code[code.length - 1] === 0x30 ? 2 : 3)));
    }
  });

  it('RETFQ to a 32-bit code segment runs compatibility mode; RETF back to an L=1 segment returns to 64-bit mode', () => {
    // push 0x18; push c32; retfq; c32: mov eax,0x12345678; push dword 0x08; push dword b64; retf; b64: mov rbx, imm64
    const r = h.run({
      code: [0x6a, 0x18, 0x68, 0x09, 0x00, 0x10, 0x00, 0x48, 0xcb, 0xb8, 0x78, 0x56, 0x34, 0x12, 0x6a, 0x08, 0x68, 0x16, 0x00, 0x10, 0x00, 0xcb, 0x48, 0xbb, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
      regs: { rax: 0xffffffffffffffffn },
    });
    expect(r.exception).toBeUndefined();
    // Written in compatibility mode (the upper half is undefined there, SDM Vol. 1 3.4.1.1).
    expect(r.regs.rax & 0xffffffffn).toBe(0x12345678n);
    expect(r.regs.rbx).toBe(0x1122334455667788n); // decoded as 64-bit code again
    expect(r.cpu.mode64).toBe(true);
  });
});

describe('compatibility mode decoding', () => {
  it('no REX state survives the switch: after RETFQ (48 CB) to 32-bit code, 88 E3 is mov bl, ah', () => {
    const r = h.run({ code: [0x6a, 0x18, 0x68, 0x09, 0x00, 0x10, 0x00, 0x48, 0xcb, 0x88, 0xe3], regs: { rax: 0x1100n } });
    expect(r.exception).toBeUndefined();
    expect(r.cpu.mode64).toBe(false);
    expect(r.regs.rbx).toBe(0x11n);
  });
});

describe('64-bit addressing and canonical addresses', () => {
  it('RIP-relative operands are relative to the end of the instruction, immediates included', () => {
    // mov rax,[rel $$+0x10000]; cmp qword [rel $$+0x10008],5; mov dword [rel $$+0x10010],0x11223344; lea rbx,[rel $]; setz cl
    const r = h.run({
      code: [0x48, 0x8b, 0x05, 0xf9, 0xff, 0x00, 0x00, 0x48, 0x83, 0x3d, 0xf9, 0xff, 0x00, 0x00, 0x05, 0xc7, 0x05, 0xf7, 0xff, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0x48, 0x8d, 0x1d, 0xf9, 0xff, 0xff, 0xff, 0x0f, 0x94, 0xc1],
      mem: [{ addr: DATA_ADDR, bytes: [...le64(0xfeedfacecafebeefn), ...le64(5n), ...le64(0n)] }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rax).toBe(0xfeedfacecafebeefn);
    expect(r.regs.rcx & 0xffn).toBe(1n); // the compare saw the 5 at DATA_ADDR + 8
    expect(r.read64(DATA_ADDR + 0x10)).toBe(0x11223344n);
    expect(r.regs.rbx).toBe(BigInt(CODE_ADDR + 25)); // lea rbx, [rel $] = its own address
  });

  it('code runs at canonical upper-half addresses (4-level paging alias at 0xFFFFFFFF80000000)', () => {
    // mov rax, HIGH+9; jmp rax; hh: lea rbx,[rel $]; mov rcx,[rel $$]
    const code = [0x48, 0xc7, 0xc0, 0x09, 0x00, 0x10, 0x80, 0xff, 0xe0, 0x48, 0x8d, 0x1d, 0xf9, 0xff, 0xff, 0xff, 0x48, 0x8b, 0x0d, 0xe9, 0xff, 0xff, 0xff];
    const r = h.run({ code });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rbx).toBe(HIGH_ALIAS + BigInt(CODE_ADDR + 9));
    expect(r.regs.rcx).toBe(BigInt.asUintN(64, BigInt('0x' + code.slice(0, 8).reverse().map((b) => b.toString(16).padStart(2, '0')).join(''))));
    expect(r.rip).toBe(HIGH_ALIAS + BigInt(CODE_ADDR + code.length + 1));
  });

  it('a jump to a non-canonical address is #GP(0) at the jump', () => {
    const r = h.run({ code: [0xff, 0xe0], regs: { rax: 0x0000800000000000n } });
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.errorCode).toBe(0n);
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR));
  });

  it('a non-canonical data access is #GP(0), a non-canonical stack access #SS(0)', () => {
    const g = h.run({ code: [0x48, 0x8b, 0x03], regs: { rbx: 0xffff7fffffffffffn } });
    expect(g.exception?.vector).toBe(13);
    expect(g.exception?.errorCode).toBe(0n);
    const ss = h.run({ code: [0x48, 0x8b, 0x45, 0x00], regs: { rbp: 0x8000000000000000n } }); // mov rax, [rbp+0]
    expect(ss.exception?.vector).toBe(12);
    expect(ss.exception?.errorCode).toBe(0n);
  });
});

describe('MSRs, control registers and descriptor tables', () => {
  it('WRMSR FS.base, then an fs: access and RDMSR of it', () => {
    const r = h.run({
      code: [0xb9, 0x00, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x00, 0x11, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00, 0xb9, 0x00, 0x01, 0x00, 0xc0, 0x0f, 0x32],
      mem: [{ addr: DATA_ADDR + 0x10, bytes: le64(0x0123456789abcdefn) }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rax).toBe(BigInt(DATA_ADDR)); // RDMSR: EAX = low half (upper half of RAX cleared)
    expect(r.regs.rdx).toBe(0n);
  });

  it('a non-canonical FS.base is #GP(0)', () => {
    const r = h.run({ code: [0xb9, 0x00, 0x01, 0x00, 0xc0, 0x31, 0xc0, 0xba, 0x00, 0x80, 0x00, 0x00, 0x0f, 0x30] });
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + 12));
  });

  it('SWAPGS exchanges GS.base with IA32_KERNEL_GS_BASE', () => {
    const r = h.run({
      code: [0xb9, 0x01, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x00, 0x11, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xb9, 0x02, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x01, 0x11, 0x00, 0x0f, 0x30, 0x0f, 0x01, 0xf8, 0x65, 0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00, 0xb9, 0x02, 0x01, 0x00, 0xc0, 0x0f, 0x32],
      mem: [{ addr: DATA_ADDR + 8, bytes: le64(0x1111n) }, { addr: DATA_ADDR + 0x108, bytes: le64(0x2222n) }],
    });
    expect(r.exception).toBeUndefined();
    expect(r.cpu.s.segBase[5]).toBe(DATA_ADDR + 0x100);
    expect(r.regs.rax).toBe(BigInt(DATA_ADDR)); // KERNEL_GS_BASE now holds the old GS.base
  });

  it('MOV CR8 keeps the task priority; MOV from CR3 reads the 64-bit register', () => {
    const r = h.run({ code: [0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3, 0x0f, 0x20, 0xd9], regs: { rax: 9n, rbx: -1n, rcx: -1n } });
    expect(r.exception).toBeUndefined();
    expect(r.regs.rbx).toBe(9n);
    expect(r.regs.rcx).toBe(0x8000n);
    const bad = h.run({ code: [0x44, 0x0f, 0x22, 0xc0], regs: { rax: 16n } });
    expect(bad.exception?.vector).toBe(13);
  });

  it('SGDT/LGDT use the 10-byte form in 64-bit mode', () => {
    const r = h.run({
      code: [0x0f, 0x01, 0x06, 0x0f, 0x01, 0x56, 0x10, 0x0f, 0x01, 0x46, 0x20],
      regs: { rsi: BigInt(DATA_ADDR) },
      mem: [{ addr: DATA_ADDR + 0x10, bytes: [0x7f, 0x00, ...le64(0xffffffff80000800n)] }],
    });
    expect(r.exception).toBeUndefined();
    const mem = h.mem;
    expect(mem.read(DATA_ADDR, 2)).toBe(16 * 8 - 1);
    expect(h.read64(DATA_ADDR + 2)).toBe(0x800n);
    expect(h.read64(DATA_ADDR + 0x22)).toBe(0xffffffff80000800n);
  });
});

describe('SYSCALL / SYSRET', () => {
  it('SYSCALL saves RIP in RCX and RFLAGS in R11, masks RFLAGS with FMASK and enters LSTAR at CPL 0; SYSRET (REX.W) returns to CPL 3', () => {
    const kentry = CODE_ADDR + 0x100;
    // mov r13,rcx; mov r14,r11; mov r15,rsp; pushfq; pop r10; o64 sysret
    const k = [0x49, 0x89, 0xcd, 0x4d, 0x89, 0xde, 0x49, 0x89, 0xe7, 0x9c, 0x41, 0x5a, 0x48, 0x0f, 0x07];
    const r = h.run({
      // mov eax,0x12345; syscall; mov r12,rcx; (hlt at CPL 3: #GP)
      code: [0xb8, 0x45, 0x23, 0x01, 0x00, 0x0f, 0x05, 0x49, 0x89, 0xcc],
      mem: [{ addr: kentry, bytes: k }],
      rflags: IF | 0x1,
      setup: (cpu) => {
        cpu.s.efer |= 1; // SCE
        cpu.s.long.starHi = (0x23 << 16) | SEL64.KCODE64;
        cpu.s.long.lstar = kentry;
        cpu.s.long.sfmask = IF;
      },
    });
    expect(r.regs.r13).toBe(BigInt(CODE_ADDR + 7)); // RCX = the instruction after SYSCALL
    expect(r.regs.r14 & 0x201n).toBe(0x201n); // R11 = RFLAGS at SYSCALL
    expect(r.regs.r10 & BigInt(IF)).toBe(0n); // IF masked by FMASK inside the kernel
    expect(r.regs.r15).toBe(BigInt(STACK_TOP)); // SYSCALL does not switch stacks
    expect(r.regs.r12).toBe(BigInt(CODE_ADDR + 7));
    // The HLT after SYSRET runs at CPL 3 and faults: CS = STAR[63:48] + 16 | 3, SS = STAR[63:48] + 8 | 3.
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.cs).toBe(0x33);
    expect(r.exception?.ss).toBe(0x2b);
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + 10));
    expect(r.exception!.rflags & 0x201n).toBe(0x201n); // RFLAGS restored from R11
  });

  it('SYSCALL with EFER.SCE clear is #UD; SYSRET at CPL 0 with a non-canonical RCX is #GP(0)', () => {
    expect(h.run({ code: [0x0f, 0x05] }).exception?.vector).toBe(6);
    const r = h.run({ code: [0x48, 0x0f, 0x07], regs: { rcx: 0x0000800000000000n }, setup: (cpu) => { cpu.s.efer |= 1; } });
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.cs).toBe(SEL64.KCODE64);
  });
});

describe('interrupts and exceptions in IA-32e mode (SDM 6.14)', () => {
  it('an exception at CPL 0 pushes SS, RSP, RFLAGS, CS, RIP as quadwords on the 16-byte-aligned stack', () => {
    const r = h.run({ code: [0x0f, 0x0b], regs: { rsp: BigInt(STACK_TOP - 8) } });
    expect(r.exception?.vector).toBe(6);
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR));
    expect(r.exception?.cs).toBe(SEL64.KCODE64);
    expect(r.exception?.rsp).toBe(BigInt(STACK_TOP - 8));
    expect(r.exception?.ss).toBe(SEL64.KDATA);
    // The frame started at the aligned STACK_TOP - 16: after the handler popped it, RSP is there.
    expect(r.regs.rsp).toBe(BigInt(STACK_TOP - 16));
  });

  it('a gate with IST 1 switches to the IST stack from the 64-bit TSS even without a privilege change', () => {
    const r = h.run({
      code: [0xcd, 0x40],
      setup: () => {
        h.setIdtGate(0x40, BigInt(h.handler(0x40)), { ist: 1 });
        h.write64(TSS64_BASE + 0x24, BigInt(IST1_TOP + 8)); // misaligned: aligned down to IST1_TOP
      },
    });
    h.setIdtGate(0x40, BigInt(h.handler(0x40)));
    h.write64(TSS64_BASE + 0x24, BigInt(IST1_TOP));
    expect(r.exception?.vector).toBe(0x40);
    expect(r.exception?.rsp).toBe(BigInt(STACK_TOP));
    expect(r.regs.rsp).toBe(BigInt(IST1_TOP));
  });

  it('INT n from CPL 3 switches to RSP0 with a null SS; IRETQ got there with all five quadwords', () => {
    // push 0x2b; push 0x60000; pushfq; push 0x33; push user; iretq; user: mov rbx,0x42; int 0x80
    const r = h.run({ code: [0x6a, 0x2b, 0x68, 0x00, 0x00, 0x06, 0x00, 0x9c, 0x6a, 0x33, 0x68, 0x11, 0x00, 0x10, 0x00, 0x48, 0xcf, 0xbb, 0x42, 0x00, 0x00, 0x00, 0xcd, 0x80] });
    expect(r.regs.rbx).toBe(0x42n);
    expect(r.exception?.vector).toBe(0x80);
    expect(r.exception?.cs).toBe(SEL64.UCODE64);
    expect(r.exception?.ss).toBe(SEL64.UDATA);
    expect(r.exception?.rsp).toBe(0x60000n);
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + 24));
    expect(r.regs.rsp).toBe(BigInt(RSP0_TOP));
    expect(r.cpu.s.segSel[2]).toBe(0); // SS = null selector with RPL 0
    expect(r.cpu.cpl).toBe(0);
  });

  it('a gate whose DPL is below CPL is #GP(vector * 8 + 2) for INT n from user mode', () => {
    const r = h.run({
      code: [0x6a, 0x2b, 0x68, 0x00, 0x00, 0x06, 0x00, 0x9c, 0x6a, 0x33, 0x68, 0x11, 0x00, 0x10, 0x00, 0x48, 0xcf, 0xbb, 0x42, 0x00, 0x00, 0x00, 0xcd, 0x80],
      setup: () => h.setIdtGate(0x80, BigInt(h.handler(0x80)), { dpl: 0 }),
    });
    h.setIdtGate(0x80, BigInt(h.handler(0x80)));
    expect(r.exception?.vector).toBe(13);
    expect(r.exception?.errorCode).toBe(BigInt(0x80 * 8 + 2));
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + 22));
  });

  it('a #PF at an upper-half address: CR2 reads back as the sign-extended 64-bit address', () => {
    const r = h.run({ code: [0x48, 0xa1, 0x00, 0x00, 0x20, 0x00, 0x00, 0x80, 0xff, 0xff] });
    expect(r.exception?.vector).toBe(14);
    expect(r.exception?.errorCode).toBe(0n); // not present, read, supervisor
    const cr2 = r.cpu.s.cr2;
    const m = h.run({ code: [0x0f, 0x20, 0xd3], setup: (cpu) => { cpu.s.cr2 = cr2; } });
    expect(m.regs.rbx).toBe(0xffff800000200000n);
  });

  it('an interrupt in compatibility mode is delivered through the 64-bit IDT into 64-bit mode', () => {
    // push 0x18; push c32; retfq; c32 (32-bit): mov eax, 0x77; int 0x41
    const r = h.run({ code: [0x6a, 0x18, 0x68, 0x09, 0x00, 0x10, 0x00, 0x48, 0xcb, 0xb8, 0x77, 0x00, 0x00, 0x00, 0xcd, 0x41] });
    expect(r.regs.rax).toBe(0x77n);
    expect(r.exception?.vector).toBe(0x41);
    expect(r.exception?.cs).toBe(SEL64.KCODE32);
    expect(r.exception?.rip).toBe(BigInt(CODE_ADDR + 16));
    expect(r.cpu.mode64).toBe(true);
  });
});
