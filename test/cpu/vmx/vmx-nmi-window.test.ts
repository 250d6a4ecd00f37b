/**
 * Virtual NMIs and NMI-window exiting (SDM Vol. 3C 25.3, 26.3, 26.6.1, 26.7.6, 27.2.1.1,
 * 27.3.1.5, 28.2.2): with "virtual NMIs", blocking by NMI in the guest interruptibility state
 * is virtual-NMI blocking, set by an injected NMI and removed by IRET (even a faulting one,
 * which then reports "NMI unblocking due to IRET"); the NMI-window exit (reason 8) happens at
 * the first boundary without virtual-NMI, MOV-SS or STI blocking; physical NMIs still exit.
 */
import { describe, expect, it } from 'vitest';
import { F } from '../../../src/cpu/x86/vmx/vmcs-fields.js';
import { readVmxCapMsr, VmxMsr } from '../../../src/cpu/x86/vmx/vmx-capabilities.js';
import { guestRig, GUEST_CODE, GUEST_STACK, HOST_CODE, MARK, NMI_HANDLER, PIN0, PROC0 } from './vmx-guest-rig.js';

const NMI_EXITING = 1 << 3, VIRTUAL_NMIS = 1 << 5, NMI_WINDOW = 1 << 22;
const JMP_SELF = [0xeb, 0xfe];
const IRET = 0xcf;

function vnmiRig(intr: number, window = true) {
  const r = guestRig();
  r.v.set(F.PIN_CONTROLS, PIN0 | NMI_EXITING | VIRTUAL_NMIS);
  r.v.set(F.PROC_CONTROLS, (PROC0 | (window ? NMI_WINDOW : 0)) >>> 0);
  r.v.set(F.GUEST_INTERRUPTIBILITY, intr);
  // NMI handler: mov dword [MARK], 1; iret.
  [0xc7, 0x05, MARK & 0xff, MARK >>> 8, 0, 0, 1, 0, 0, 0, IRET].forEach((b, i) => r.mem.write(NMI_HANDLER + i, 1, b));
  return r;
}

describe('NMI-window exiting', () => {
  it('is advertised in the capability MSRs together with virtual NMIs', () => {
    const r = guestRig();
    expect(readVmxCapMsr(r.vmx.caps, VmxMsr.TRUE_PINBASED_CTLS)![1] & VIRTUAL_NMIS).toBe(VIRTUAL_NMIS);
    expect((readVmxCapMsr(r.vmx.caps, VmxMsr.TRUE_PROCBASED_CTLS)![1] & NMI_WINDOW) >>> 0).toBe(NMI_WINDOW);
  });

  it('exits before the first guest instruction when nothing blocks NMIs', () => {
    const r = vnmiRig(0);
    r.code(JMP_SELF);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(8);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0);
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(0);
    expect(r.cpu.vmxNonRoot).toBe(false);
    expect(r.cpu.s.eip).toBe(HOST_CODE + 1);
  });

  it('waits out blocking by MOV SS and by STI for one instruction', () => {
    for (const [intr, flags] of [[2, 2], [1, 0x202]] as const) {
      const r = vnmiRig(intr);
      r.v.set(F.GUEST_RFLAGS, flags);
      r.code([0x90, ...JMP_SELF]);
      expect(r.enter()).toBe(0);
      r.run();
      expect(r.reason()).toBe(8);
      expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE + 1);
    }
  });

  it('stays closed under virtual-NMI blocking until the guest IRETs from its NMI handler', () => {
    const r = vnmiRig(0);
    r.code(JMP_SELF);
    // Inject an NMI: it sets virtual-NMI blocking; the handler runs, marks, IRETs.
    r.v.set(F.ENTRY_INTR_INFO, 0x80000202);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(8);
    expect(r.mem.read(MARK, 4)).toBe(1);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
    expect(r.v.get(F.GUEST_INTERRUPTIBILITY) & 8).toBe(0);
    // The valid bit of the injection field is cleared by the exit.
    expect(r.v.get(F.ENTRY_INTR_INFO) >>> 31).toBe(0);
  });

  it('never opens while the guest keeps virtual-NMI blocking (runs to an unconditional exit)', () => {
    const r = vnmiRig(8);
    r.code([0x90, 0x0f, 0xa2]); // nop; cpuid
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(10);
    expect(r.v.get(F.GUEST_INTERRUPTIBILITY) & 8).toBe(8);
  });
});

describe('virtual NMIs', () => {
  it('do not block physical NMIs: an NMI exits even under virtual-NMI blocking', () => {
    const r = vnmiRig(8, false);
    r.code(JMP_SELF);
    expect(r.enter()).toBe(0);
    r.run(50);
    expect(r.cpu.vmxNonRoot).toBe(true);
    r.cpu.injectNmi();
    r.run();
    expect(r.reason()).toBe(0);
    expect(r.v.get(F.EXIT_INTR_INFO)).toBe(0x80000202);
    expect(r.v.get(F.GUEST_INTERRUPTIBILITY) & 8).toBe(8);
  });

  it('without them, blocking by NMI holds physical NMIs off for the whole of non-root operation', () => {
    const r = guestRig();
    r.v.set(F.PIN_CONTROLS, PIN0 | NMI_EXITING);
    r.v.set(F.GUEST_INTERRUPTIBILITY, 8);
    r.code([0x90, 0x0f, 0xa2]); // nop; cpuid
    r.cpu.injectNmi();
    expect(r.enter()).toBe(0);
    r.run(3);
    expect(r.reason()).toBe(10);
  });

  it('a faulting IRET removes virtual-NMI blocking and reports it in bit 12', () => {
    for (const [pin, intr, info, left] of [
      [PIN0 | NMI_EXITING | VIRTUAL_NMIS, 8, 0x80001b0d, 0], // unblocked: bit 12
      [PIN0 | NMI_EXITING | VIRTUAL_NMIS, 0, 0x80000b0d, 0], // nothing to unblock
      [PIN0 | NMI_EXITING, 8, 0x80000b0d, 8], // NMI exiting alone: IRET leaves blocking alone
      [PIN0, 8, 0x80001b0d, 0], // no NMI exiting: IRET unblocks NMIs
    ] as const) {
      const r = guestRig();
      r.v.set(F.PIN_CONTROLS, pin);
      r.v.set(F.GUEST_INTERRUPTIBILITY, intr);
      r.v.set(F.EXCEPTION_BITMAP, 1 << 13);
      // IRET frame with a null CS: #GP(0).
      r.mem.write(GUEST_STACK, 4, GUEST_CODE);
      r.mem.write(GUEST_STACK + 4, 4, 0);
      r.mem.write(GUEST_STACK + 8, 4, 2);
      r.code([IRET]);
      expect(r.enter()).toBe(0);
      r.run();
      expect(r.reason()).toBe(0);
      expect(r.v.get(F.EXIT_INTR_INFO)).toBe(info);
      expect(r.v.get(F.EXIT_INTR_ERROR)).toBe(0);
      expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
      expect(r.v.get(F.GUEST_INTERRUPTIBILITY) & 8).toBe(left);
    }
  });
});

describe('VM-entry checks for virtual NMIs (SDM 27.2.1.1, 27.3.1.5)', () => {
  it('NMI-window exiting requires virtual NMIs; virtual NMIs require NMI exiting', () => {
    const a = guestRig();
    a.v.set(F.PIN_CONTROLS, PIN0 | NMI_EXITING);
    a.v.set(F.PROC_CONTROLS, (PROC0 | NMI_WINDOW) >>> 0);
    expect(a.enter()).toBe(7);
    expect(a.cpu.vmxNonRoot).toBe(false);
    const b = guestRig();
    b.v.set(F.PIN_CONTROLS, PIN0 | VIRTUAL_NMIS);
    expect(b.enter()).toBe(7);
    const c = guestRig();
    c.v.set(F.PIN_CONTROLS, PIN0 | NMI_EXITING | VIRTUAL_NMIS);
    c.v.set(F.PROC_CONTROLS, (PROC0 | NMI_WINDOW) >>> 0);
    c.v.set(F.GUEST_INTERRUPTIBILITY, 8);
    c.code(JMP_SELF);
    expect(c.enter()).toBe(0);
    expect(c.cpu.vmxNonRoot).toBe(true);
  });

  it('injecting an NMI under virtual-NMI blocking is an invalid guest state; without virtual NMIs it is allowed', () => {
    const a = vnmiRig(8, false);
    a.v.set(F.ENTRY_INTR_INFO, 0x80000202);
    expect(a.enter()).toBe(0);
    expect(a.reason()).toBe(0x80000021);
    expect(a.v.getNum(F.EXIT_QUALIFICATION)).toBe(0);
    expect(a.cpu.vmxNonRoot).toBe(false);
    const b = guestRig();
    b.v.set(F.PIN_CONTROLS, PIN0 | NMI_EXITING);
    b.v.set(F.GUEST_INTERRUPTIBILITY, 8);
    b.v.set(F.ENTRY_INTR_INFO, 0x80000202);
    b.code(JMP_SELF);
    expect(b.enter()).toBe(0);
    expect(b.cpu.vmxNonRoot).toBe(true);
  });
});
