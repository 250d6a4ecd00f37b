/**
 * Unconditional VM exits of VMX non-root operation for events pcvm does not otherwise model:
 * task switches (reason 9; qualification per SDM Vol. 3C Table 28-2: TSS selector in 15:0,
 * source in 31:30 — 0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT; the checks before the exit
 * of SDM 26.4.2 still fault) and INIT (reason 3, SDM 26.2; blocked and latched in root
 * operation, SDM 24.8), including the local APIC's INIT IPI path.
 */
import { describe, expect, it } from 'vitest';
import { F } from '../../../src/cpu/x86/vmx/vmcs-fields.js';
import { LocalApic } from '../../../devices/apic/lapic.js';
import { VirtualClock } from '../../../src/machine/clock.js';
import { PhysicalMemory } from '../../../src/memory/physical-memory.js';
import { NULL_LOGGER } from '../../../src/machine/log.js';
import { guestRig, GUEST_CODE, TSS } from './vmx-guest-rig.js';

const JMP_SELF = [0xeb, 0xfe];

function taskRig(code: number[]) {
  const r = guestRig();
  r.code(code);
  return r;
}

describe('task switch in non-root operation', () => {
  it('JMP far to an available TSS exits with source 2 and the selector', () => {
    const r = taskRig([0xea, 0, 0, 0, 0, 0x20, 0]);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(9);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0x80000020);
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(7);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
    expect(r.v.get(F.IDT_VECTORING_INFO)).toBe(0);
    expect(r.cpu.vmxNonRoot).toBe(false);
  });

  it('CALL far through a task gate exits with source 0 and the TSS selector of the gate', () => {
    const r = taskRig([0x9a, 0, 0, 0, 0, 0x28, 0]);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(9);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0x00000020);
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(7);
    // Nothing was pushed: the guest's stack pointer is unchanged.
    expect(r.v.get(F.GUEST_RSP)).toBe(0x90000);
  });

  it('IRET with NT = 1 exits with source 1 and the previous-task link of the current TSS', () => {
    const r = taskRig([0xcf]);
    r.mem.write(TSS, 2, 0x20);
    r.v.set(F.GUEST_RFLAGS, 0x4002);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(9);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0x40000020);
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(1);
  });

  it('INT n through an IDT task gate exits with source 3, the instruction length and the event as IDT-vectoring information', () => {
    const r = taskRig([0xcd, 0x40]);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(9);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0xc0000020);
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(2);
    expect(r.v.get(F.IDT_VECTORING_INFO)).toBe(0x80000440);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
  });

  it('an exception through an IDT task gate exits with source 3 and the exception as IDT-vectoring information', () => {
    const r = taskRig([0x0f, 0x0b]); // ud2 -> vector 6, a task gate
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(9);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0xc0000020);
    expect(r.v.get(F.EXIT_INSTRUCTION_LENGTH)).toBe(0);
    expect(r.v.get(F.IDT_VECTORING_INFO)).toBe(0x80000306);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
  });

  it('an injected event delivered through a task gate exits the same way', () => {
    const r = taskRig(JMP_SELF);
    r.v.set(F.ENTRY_INTR_INFO, 0x80000306);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(9);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0xc0000020);
    expect(r.v.get(F.IDT_VECTORING_INFO)).toBe(0x80000306);
  });

  it('checks before the exit still fault: a TSS that is not present is #NP, through a gate too', () => {
    for (const [code, vectoring] of [[[0xea, 0, 0, 0, 0, 0x30, 0], 0], [[0xcd, 0x41], 0x80000441]] as const) {
      const r = taskRig([...code]);
      r.v.set(F.EXCEPTION_BITMAP, 1 << 11);
      expect(r.enter()).toBe(0);
      r.run();
      expect(r.reason()).toBe(0);
      expect(r.v.get(F.EXIT_INTR_INFO)).toBe(0x80000b0b);
      expect(r.v.get(F.EXIT_INTR_ERROR)).toBe(0x30);
      expect(r.v.get(F.IDT_VECTORING_INFO)).toBe(vectoring);
    }
  });

  it('a busy TSS or an RPL above the descriptor DPL is #GP, not an exit', () => {
    for (const sel of [0x18, 0x23]) {
      const r = taskRig([0xea, 0, 0, 0, 0, sel, 0]);
      r.v.set(F.EXCEPTION_BITMAP, 1 << 13);
      expect(r.enter()).toBe(0);
      r.run();
      expect(r.reason()).toBe(0);
      expect(r.v.get(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
      expect(r.v.get(F.EXIT_INTR_ERROR)).toBe(sel & 0xfffc);
    }
  });
});

describe('INIT and VMX', () => {
  it('INIT in non-root operation is a VM exit (reason 3) at the next instruction boundary', () => {
    const r = taskRig(JMP_SELF);
    expect(r.enter()).toBe(0);
    r.run(100);
    expect(r.cpu.vmxNonRoot).toBe(true);
    expect(r.cpu.signalInit()).toBe(true);
    r.run();
    expect(r.reason()).toBe(3);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
    expect(r.v.getNum(F.EXIT_QUALIFICATION)).toBe(0);
    expect(r.cpu.vmxNonRoot).toBe(false);
    // Taken once: the next entry runs the guest.
    expect(r.enter()).toBe(0);
    r.run(100);
    expect(r.cpu.vmxNonRoot).toBe(true);
  });

  it('INIT in root operation is latched and exits right after the next VM entry', () => {
    const r = taskRig(JMP_SELF);
    expect(r.cpu.signalInit()).toBe(true);
    expect(r.cpu.vmxNonRoot).toBe(false);
    expect(r.enter()).toBe(0);
    r.run();
    expect(r.reason()).toBe(3);
    expect(r.v.get(F.GUEST_RIP)).toBe(GUEST_CODE);
  });

  it('VMXOFF unblocks a latched INIT, which is dropped (the INIT reset is not modelled)', () => {
    const r = taskRig(JMP_SELF);
    expect(r.cpu.signalInit()).toBe(true);
    [0x0f, 0x01, 0xc4, 0xf4].forEach((b, i) => r.mem.write(0x50000 + i, 1, b)); // vmxoff; hlt
    r.cpu.s.eip = 0x50000;
    r.run(10);
    expect(r.vmx.inVmx).toBe(false);
    expect(r.vmx.initPending).toBe(false);
    expect(r.cpu.s.eip).toBe(0x50004);
  });

  it('outside VMX operation the CPU does not take INIT (its INIT reset is not modelled)', () => {
    const r = taskRig(JMP_SELF);
    r.vmx.reset();
    expect(r.cpu.signalInit()).toBe(false);
    expect(r.vmx.initPending).toBe(false);
  });

  it('a self INIT IPI through the local APIC ICR signals INIT to the CPU', () => {
    let hostNs = 0;
    const clock = new VirtualClock({ kind: 'realtime' }, () => hostNs);
    clock.start();
    const mem = new PhysicalMemory(1024 * 1024);
    mem.mapRam(0, 1024 * 1024, 0);
    let inits = 0;
    let taken = true;
    const apic = new LocalApic({
      clock, memory: mem, extInt: { hasInterrupt: () => false, acknowledge: () => 0 }, eoi: { endOfInterrupt: () => {} },
      raiseNmi: () => {}, raiseInit: () => (inits++, taken), log: NULL_LOGGER,
    });
    expect(apic).toBeDefined();
    const BASE = 0xfee00000;
    mem.write(BASE + 0xf0, 4, 0x1ff); // software enable
    mem.write(BASE + 0x300, 4, 0x00044500); // self, level assert, INIT
    expect(inits).toBe(1);
    mem.write(BASE + 0x300, 4, 0x00048500); // all excluding self: not this CPU
    expect(inits).toBe(1);
    mem.write(BASE + 0x300, 4, 0x00088500); // all including self, level de-assert, level-triggered: no INIT
    expect(inits).toBe(1);
    taken = false;
    mem.write(BASE + 0x300, 4, 0x00084500); // all including self: the CPU declines (logged), no throw
    expect(inits).toBe(2);
    hostNs++;
  });

  it('a latched INIT survives a snapshot of the VMX state', async () => {
    const { saveVmxState, loadVmxState } = await import('../../../src/cpu/x86/vmx/vmx-snapshot.js');
    const r = taskRig(JMP_SELF);
    r.cpu.signalInit();
    const data = saveVmxState(r.vmx);
    const r2 = taskRig(JMP_SELF);
    loadVmxState(r2.cpu, { vmx: JSON.parse(JSON.stringify(data)) }, 5)();
    expect(r2.vmx.initPending).toBe(true);
    expect(() => loadVmxState(r2.cpu, { vmx: { ...data, initPending: 3 } }, 5)).toThrow();
  });
});
