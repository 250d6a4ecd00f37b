/**
 * MOV DR in VMX non-root operation: with "MOV-DR exiting" the VM exit (reason 29) takes
 * priority over the #GP for CPL > 0 and the #UD for DR4/DR5 under CR4.DE — an exception to the
 * usual rule that privilege and invalid-opcode faults come before VM exits (SDM Vol. 3C 26.1.1
 * and 26.1.3, "MOV DR") — and, being a fault-like VM exit, over DR7.GD's #DB. Without the
 * control those faults happen in the guest (caught here by the exception bitmap, exit reason
 * 0 with the vector in the exit interruption information, SDM Table 25-17).
 * Exit qualification (SDM Table 28-4): DR number in bits 2:0, 1 in bit 4 for MOV from DR, the
 * general register in bits 11:8.
 */
import { describe, expect, it } from 'vitest';
import { F } from '../../../src/cpu/x86/vmx/vmcs-fields.js';
import { guestRig, PROC0 } from './vmx-guest-rig.js';

const MOV_DR_EXITING = 1 << 23;
const CR4_DE = 1 << 3;
const DR7_GD = 1 << 13;
/** VM-entry control "load debug controls" (DR7 and IA32_DEBUGCTL from the guest-state area). */
const LOAD_DEBUG = 1 << 2;
/** Exit reasons: exception or NMI, MOV DR. */
const EXCEPTION = 0, MOV_DR = 29;
/** Valid hardware exception (type 3) with `vector`, and bit 11 when it has an error code. */
const hwException = (vector: number, hasCode = false) => (0x80000300 | vector | (hasCode ? 0x800 : 0)) >>> 0;

const MOV_EAX_DR4 = [0x0f, 0x21, 0xe0];
const MOV_EAX_DR0 = [0x0f, 0x21, 0xc0];
const MOV_DR7_ECX = [0x0f, 0x23, 0xf9];

interface Guest {
  code: number[];
  exiting: boolean;
  cr4?: number;
  dr7?: number;
  cpl3?: boolean;
}

/** Runs `code` as the guest's first instruction; the exception bitmap catches #DB, #UD and #GP. */
function runGuest(g: Guest) {
  const r = guestRig();
  r.code(g.code);
  r.v.set(F.PROC_CONTROLS, g.exiting ? PROC0 | MOV_DR_EXITING : PROC0);
  r.v.set(F.EXCEPTION_BITMAP, (1 << 1) | (1 << 6) | (1 << 13));
  if (g.dr7 !== undefined) {
    r.v.set(F.ENTRY_CONTROLS, r.v.get(F.ENTRY_CONTROLS) | LOAD_DEBUG);
    r.v.set(F.GUEST_DR7, g.dr7);
  }
  if (g.cpl3) {
    // A ring-3 guest: CS and SS with DPL 3 and RPL 3, user-accessible 4 MiB pages.
    r.mem.write(0x1000, 4, 0x87);
    r.v.set(F.GUEST_CS_SEL, 0x1b);
    r.v.set(F.GUEST_CS_AR, 0xc0fb);
    r.v.set(F.GUEST_SS_SEL, 0x23);
    r.v.set(F.GUEST_SS_AR, 0xc0f3);
  }
  expect(r.enter()).toBe(0);
  expect(r.cpu.s.dr[7]! & DR7_GD).toBe(g.dr7 !== undefined ? DR7_GD : 0);
  // pcvm does not advertise the debugging extensions yet (CPUID.01H:EDX.DE = 0, so neither
  // MOV to CR4 nor VM entry accepts CR4.DE); the bit goes straight into the CPU state.
  if (g.cr4) r.cpu.s.cr4 |= g.cr4;
  r.run();
  expect(r.cpu.vmxNonRoot).toBe(false);
  return r;
}

describe('MOV DR in VMX non-root operation: which comes first (SDM Vol. 3C 26.1.3)', () => {
  it('DR4 with CR4.DE = 1: the MOV-DR exit, not #UD', () => {
    const r = runGuest({ code: MOV_EAX_DR4, exiting: true, cr4: CR4_DE });
    expect(r.reason()).toBe(MOV_DR);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0x14); // DR4, MOV from DR, EAX
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(3);
  });

  it('DR4 with CR4.DE = 1 and no MOV-DR exiting: #UD in the guest', () => {
    const r = runGuest({ code: MOV_EAX_DR4, exiting: false, cr4: CR4_DE });
    expect(r.reason()).toBe(EXCEPTION);
    expect(r.v.get(F.EXIT_INTR_INFO)).toBe(hwException(6));
  });

  it('at CPL 3: the MOV-DR exit, not #GP(0)', () => {
    const r = runGuest({ code: MOV_EAX_DR0, exiting: true, cpl3: true });
    expect(r.reason()).toBe(MOV_DR);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0x10); // DR0, MOV from DR, EAX
  });

  it('at CPL 3 without MOV-DR exiting: #GP(0) in the guest', () => {
    const r = runGuest({ code: MOV_EAX_DR0, exiting: false, cpl3: true });
    expect(r.reason()).toBe(EXCEPTION);
    expect(r.v.get(F.EXIT_INTR_INFO)).toBe(hwException(13, true));
    expect(r.v.get(F.EXIT_INTR_ERROR)).toBe(0);
  });

  it('with DR7.GD = 1: the MOV-DR exit, not #DB (MOV to DR7 from ECX)', () => {
    const r = runGuest({ code: MOV_DR7_ECX, exiting: true, dr7: 0x400 | DR7_GD });
    expect(r.reason()).toBe(MOV_DR);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0x107); // DR7, MOV to DR, ECX
  });

  it('with DR7.GD = 1 and no MOV-DR exiting: #DB with DR6.BD in the exit qualification', () => {
    const r = runGuest({ code: MOV_DR7_ECX, exiting: false, dr7: 0x400 | DR7_GD });
    expect(r.reason()).toBe(EXCEPTION);
    expect(r.v.get(F.EXIT_INTR_INFO)).toBe(hwException(1));
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(DR7_GD); // BD is bit 13 of DR6
  });
});
