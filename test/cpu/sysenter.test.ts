/**
 * SYSENTER / SYSEXIT (SDM Vol. 2B; Vol. 3A 5.8.7): the flat CS/SS they derive from
 * IA32_SYSENTER_CS, the stack and entry point from IA32_SYSENTER_ESP/EIP, the flags SYSENTER
 * clears, the #GP(0) cases (null SYSENTER_CS, real mode, SYSEXIT at CPL ≠ 0, non-canonical
 * 64-bit targets), and the IA-32e forms: SYSENTER into 64-bit mode, SYSEXIT with REX.W to
 * 64-bit user mode and without it to compatibility mode.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, CpuHarness, GDT_SELECTORS } from '../helpers/cpu-harness.js';
import { HIGH_ALIAS, LongModeHarness, SEL64, STACK_TOP } from '../helpers/cpu-harness64.js';
import { CpuFault } from '../../src/cpu/x86/cpu.js';
import { sysexit } from '../../src/cpu/x86/sysenter.js';
import { Ar, SegReg } from '../../src/cpu/x86/state.js';
import { cpuid } from '../../src/cpu/x86/cpuid.js';

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const movEcx = (v: number) => [0xb9, ...le32(v)];
const movEax = (v: number) => [0xb8, ...le32(v)];
const movEdx = (v: number) => [0xba, ...le32(v)];
const XOR_EDX = [0x31, 0xd2];
const WRMSR = [0x0f, 0x30];
const SYSENTER = [0x0f, 0x34];
const SYSEXIT = [0x0f, 0x35];
const wrmsr = (index: number, lo: number) => [...movEcx(index), ...XOR_EDX, ...movEax(lo), ...WRMSR];
const IF = 0x200, GP = 13, UD = 6;

/** Flat 4 GiB, present, S, accessed code (type 11) or data (type 3) in the VMX layout. */
const flatCode = (dpl: number, long: boolean) => 0xb | Ar.S | (dpl << Ar.DPL_SHIFT) | Ar.P | Ar.G | (long ? Ar.L : Ar.DB);
const flatData = (dpl: number) => 0x3 | Ar.S | (dpl << Ar.DPL_SHIFT) | Ar.P | Ar.DB | Ar.G;

describe('SYSENTER / SYSEXIT in protected mode', () => {
  const KENTRY = CODE_ADDR + 0x200;
  const UENTRY = CODE_ADDR + 0x100;
  const KSTACK = 0x70000;
  const USTACK = 0x60000;

  it('SYSEXIT enters CPL 3 with CS = SYSENTER_CS + 16, SS = + 24 (RPL 3), EIP = EDX, ESP = ECX; SYSENTER returns to CPL 0 flat, IF cleared', () => {
    const h = CpuHarness.flat32();
    // Kernel: program the MSRs, STI, SYSEXIT to UENTRY. User: record CS, SS and ESP, SYSENTER.
    const code = [
      ...wrmsr(0x174, GDT_SELECTORS.CODE32), ...wrmsr(0x175, KSTACK), ...wrmsr(0x176, KENTRY),
      0xfb, ...movEcx(USTACK), ...movEdx(UENTRY), ...SYSEXIT,
    ];
    // mov bx,cs; mov si,ss; mov ebp,esp; pushfd; pop edi; sysenter
    const user = [0x66, 0x8c, 0xcb, 0x66, 0x8c, 0xd6, 0x89, 0xe5, 0x9c, 0x5f, ...SYSENTER];
    // mov eax,esp; hlt
    const kernel = [0x89, 0xe0, 0xf4];
    const r = h.run({ code, mem: [{ addr: UENTRY, bytes: user }, { addr: KENTRY, bytes: kernel }] });
    expect(r.exception).toBeUndefined();
    expect(r.regs.ebx & 0xffff).toBe(0x1b); // (0x08 + 16) | 3
    expect(r.regs.esi & 0xffff).toBe(0x23); // (0x08 + 24) | 3
    expect(r.regs.ebp).toBe(USTACK);
    expect(r.regs.edi & IF).toBe(IF); // SYSEXIT leaves EFLAGS alone
    expect(r.regs.eax).toBe(KSTACK);
    expect(r.eip).toBe(KENTRY + 3);
    expect(r.eflags & IF).toBe(0);
    const s = h.cpu.s;
    expect(h.cpu.cpl).toBe(0);
    expect([s.segSel[SegReg.CS], s.segSel[SegReg.SS]]).toEqual([0x08, 0x10]);
    expect([s.segBase[SegReg.CS], s.segLimit[SegReg.CS], s.segAr[SegReg.CS]]).toEqual([0, 0xffffffff, flatCode(0, false)]);
    expect([s.segBase[SegReg.SS], s.segLimit[SegReg.SS], s.segAr[SegReg.SS]]).toEqual([0, 0xffffffff, flatData(0)]);
  });

  it('SYSENTER with SYSENTER_CS[15:2] = 0 raises #GP(0)', () => {
    const h = CpuHarness.flat32();
    for (const cs of [0, 3]) {
      const r = h.run({ code: [...wrmsr(0x174, cs), ...SYSENTER] });
      expect(r.exception).toMatchObject({ vector: GP, errorCode: 0, eip: CODE_ADDR + 14 });
    }
  });

  it('SYSEXIT with SYSENTER_CS = 0 raises #GP(0)', () => {
    const h = CpuHarness.flat32();
    const r = h.run({ code: SYSEXIT });
    expect(r.exception).toMatchObject({ vector: GP, errorCode: 0, eip: CODE_ADDR });
  });

  it('SYSENTER and SYSEXIT in real mode raise #GP(0)', () => {
    const h = CpuHarness.real16();
    for (const op of [SYSENTER, SYSEXIT]) {
      const r = h.run({ code: op, setup: (cpu) => { cpu.s.sysenterCs = 0x08; } });
      expect(r.exception?.vector).toBe(GP);
    }
  });

  it('SYSEXIT at CPL 3 raises #GP(0)', () => {
    const h = CpuHarness.flat32();
    const cpu = h.cpu;
    cpu.reset();
    cpu.s.cr0 |= 1;
    cpu.s.sysenterCs = 0x08;
    cpu.s.segAr[SegReg.CS] = flatCode(3, false);
    cpu.updateMode();
    expect(cpu.cpl).toBe(3);
    let vector: number | undefined;
    try {
      sysexit(cpu);
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      vector = e.vector;
    }
    expect(vector).toBe(GP);
  });

  it('CPUID.1:EDX.SEP (bit 11) is set', () => {
    expect(cpuid(1, 0)[3] & (1 << 11)).toBe(1 << 11);
  });
});

describe('SYSENTER / SYSEXIT in IA-32e mode', () => {
  const h = LongModeHarness.flat64();
  const entry = HIGH_ALIAS + BigInt(CODE_ADDR + 0x300);
  const kstack = HIGH_ALIAS + 0x70000n;
  const signed = (v: bigint) => Number(BigInt.asIntN(64, v));

  it('SYSENTER from 64-bit mode loads 64-bit RIP and RSP from the MSRs and a 64-bit CS', () => {
    // mov r12,rsp; hlt
    const r = h.run({
      code: SYSENTER,
      mem: [{ addr: CODE_ADDR + 0x300, bytes: [0x49, 0x89, 0xe4, 0xf4] }],
      rflags: IF,
      setup: (cpu) => {
        cpu.s.sysenterCs = SEL64.KCODE64;
        cpu.s.sysenterEsp = signed(kstack);
        cpu.s.sysenterEip = signed(entry);
      },
    });
    expect(r.exception).toBeUndefined();
    expect(r.regs.r12).toBe(kstack);
    expect(r.rip).toBe(entry + 4n);
    expect(r.rflags & IF).toBe(0);
    const s = r.cpu.s;
    expect(r.cpu.mode64).toBe(true);
    expect([s.segSel[SegReg.CS], s.segSel[SegReg.SS]]).toEqual([SEL64.KCODE64, SEL64.KDATA]);
    expect(s.segAr[SegReg.CS]).toBe(flatCode(0, true));
  });

  it('SYSEXIT with REX.W returns to 64-bit mode at CPL 3: CS = SYSENTER_CS + 32, SS = + 40, RIP = RDX, RSP = RCX', () => {
    // The HLT at the target runs at CPL 3 and faults: the handler records CS, SS, RIP, RSP.
    const target = CODE_ADDR + 0x400;
    const r = h.run({
      code: [0x48, ...SYSEXIT],
      mem: [{ addr: target, bytes: [0xf4] }],
      regs: { rdx: BigInt(target), rcx: BigInt(STACK_TOP - 0x100) },
      setup: (cpu) => { cpu.s.sysenterCs = SEL64.KCODE64; },
    });
    expect(r.exception).toMatchObject({ vector: GP, cs: 0x2b, ss: 0x33, rip: BigInt(target), rsp: BigInt(STACK_TOP - 0x100) });
  });

  it('SYSEXIT without REX.W in 64-bit mode returns to compatibility mode: CS = + 16, SS = + 24', () => {
    const target = CODE_ADDR + 0x400;
    const r = h.run({
      code: SYSEXIT,
      mem: [{ addr: target, bytes: [0xf4] }],
      regs: { rdx: 0x1234_0000_0000n | BigInt(target), rcx: BigInt(STACK_TOP - 0x80) },
      setup: (cpu) => { cpu.s.sysenterCs = SEL64.KCODE64; },
    });
    // EDX and ECX are used zero-extended.
    expect(r.exception).toMatchObject({ vector: GP, cs: 0x1b, ss: 0x23, rip: BigInt(target), rsp: BigInt(STACK_TOP - 0x80) });
  });

  it('SYSEXIT with REX.W and a non-canonical RDX or RCX raises #GP(0) at CPL 0', () => {
    for (const regs of [{ rdx: 0x0000800000000000n, rcx: 0n }, { rdx: BigInt(CODE_ADDR), rcx: 0x0001000000000000n }]) {
      const r = h.run({ code: [0x48, ...SYSEXIT], regs, setup: (cpu) => { cpu.s.sysenterCs = SEL64.KCODE64; } });
      expect(r.exception).toMatchObject({ vector: GP, errorCode: 0n, cs: SEL64.KCODE64, rip: BigInt(CODE_ADDR) });
    }
  });

  it('WRMSR of a non-canonical SYSENTER_EIP raises #GP(0); a canonical upper-half one reads back', () => {
    // mov ecx,0x176; mov eax,0; mov edx,0x8000; wrmsr
    const bad = h.run({ code: [...movEcx(0x176), ...movEax(0), ...movEdx(0x8000), ...WRMSR] });
    expect(bad.exception?.vector).toBe(GP);
    // ... edx = 0xffffffff, eax = 0x81000000; wrmsr; xor eax,eax; xor edx,edx; rdmsr
    const ok = h.run({ code: [...movEcx(0x176), ...movEax(0x81000000), ...movEdx(0xffffffff), ...WRMSR, 0x31, 0xc0, ...XOR_EDX, 0x0f, 0x32] });
    expect(ok.exception).toBeUndefined();
    expect([ok.regs.rax, ok.regs.rdx]).toEqual([0x81000000n, 0xffffffffn]);
    expect(ok.cpu.s.sysenterEip).toBe(-0x7f000000);
  });

  it('an unknown 0F opcode next to them still raises #UD (0F 36)', () => {
    expect(h.run({ code: [0x0f, 0x36] }).exception?.vector).toBe(UD);
  });
});
