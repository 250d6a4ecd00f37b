/**
 * A VMCS is untrusted input (SDM Vol. 3C 25.11, 31.4): VMX instructions given regions in MMIO,
 * beyond RAM or beyond the physical-address width, with wrong revision identifiers, reserved
 * control bits, bad host state, and VMCSs full of random bytes must fail exactly as the SDM
 * says (VMfailInvalid / VMfailValid with the VM-instruction error, VM-entry failure exits) and
 * never throw out of the CPU or touch a device. Also: the VMX state survives a snapshot.
 */
import { describe, expect, it } from 'vitest';
import type { X86Cpu } from '../../../src/cpu/x86/cpu.js';
import { PhysicalMemory } from '../../../src/memory/physical-memory.js';
import { VMCS_REVISION } from '../../../src/cpu/x86/vmx/vmx-capabilities.js';
import { F } from '../../../src/cpu/x86/vmx/vmcs-fields.js';
import { flatPagedVmxCpu } from './vmx-guest-rig.js';

const MiB = 1024 * 1024;
const CODE = 0x10000;
const VMXON = 0x20000;
const VMCS = 0x21000;
const PTR = 0x30000; // 8-byte operands: [PTR] VMXON pointer, [PTR + 8] the pointer under test
const MMIO = 0xfec00000;
const CF = 1, ZF = 0x40;

function vmxCpu(): { cpu: X86Cpu; mem: PhysicalMemory; mmioTouched: () => number } {
  const mem = new PhysicalMemory(8 * MiB);
  mem.mapRam(0, 8 * MiB, 0);
  let touched = 0;
  mem.mapMmio('probe', MMIO, 0x1000, { mmioRead: () => { touched++; return 0; }, mmioWrite: () => { touched++; } });
  const cpu = flatPagedVmxCpu(mem);
  return { cpu, mem, mmioTouched: () => touched };
}

/** Runs `code` at CODE (to its HLT). */
function run(cpu: X86Cpu, mem: PhysicalMemory, code: number[]): void {
  for (let i = 0; i < code.length; i++) mem.write(CODE + i, 1, code[i]!);
  cpu.s.eip = CODE;
  cpu.s.halted = false;
  cpu.run(10_000);
}

const VMXON_I = [0xf3, 0x0f, 0xc7, 0x35, ...le32(PTR)]; // vmxon [PTR]
const VMPTRLD = [0x0f, 0xc7, 0x35, ...le32(PTR + 8)]; // vmptrld [PTR+8]
const VMPTRLD_GOOD = [0x0f, 0xc7, 0x35, ...le32(PTR + 16)]; // vmptrld [PTR+16]
const VMCLEAR_GOOD = [0x66, 0x0f, 0xc7, 0x35, ...le32(PTR + 16)];
const VMLAUNCH = [0x0f, 0x01, 0xc2];
const PUSHF_POP_EDI = [0x9c, 0x5f]; // pushfd; pop edi
const VMREAD_ERR = [0xb8, ...le32(F.VM_INSTRUCTION_ERROR), 0x0f, 0x78, 0xc6]; // mov eax, 4400h; vmread esi, eax
const HLT = [0xf4];
function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function setPointers(mem: PhysicalMemory, test: number): void {
  mem.write(PTR, 4, VMXON);
  mem.write(PTR + 4, 4, 0);
  mem.write(PTR + 8, 4, test % 2 ** 32);
  mem.write(PTR + 12, 4, Math.floor(test / 2 ** 32));
  mem.write(PTR + 16, 4, VMCS);
  mem.write(PTR + 20, 4, 0);
  mem.write(VMXON, 4, VMCS_REVISION);
  mem.write(VMCS, 4, VMCS_REVISION);
}

/** VMXON, VMPTRLD of a good VMCS, VMPTRLD of `test`; returns [flags, error]. */
function vmptrldCase(test: number): { flags: number; error: number; touched: number } {
  const { cpu, mem, mmioTouched } = vmxCpu();
  setPointers(mem, test);
  cpu.s.gpr[4] = 0x8000;
  run(cpu, mem, [...VMXON_I, ...VMPTRLD_GOOD, ...VMPTRLD, ...PUSHF_POP_EDI, ...VMREAD_ERR, ...HLT]);
  expect(cpu.s.halted).toBe(true);
  return { flags: cpu.s.gpr[7]! & (CF | ZF), error: cpu.s.gpr[6]!, touched: mmioTouched() };
}

describe('hostile VMCS pointers', () => {
  it('a VMCS region in MMIO reads as all ones: VMPTRLD fails with error 11, the device never sees it', () => {
    expect(vmptrldCase(MMIO)).toEqual({ flags: ZF, error: 11, touched: 0 });
  });
  it('a VMCS region beyond RAM (unassigned, within the address width): error 11', () => {
    expect(vmptrldCase(0x40000000)).toEqual({ flags: ZF, error: 11, touched: 0 });
  });
  it('a VMCS region beyond the physical-address width: error 9', () => {
    expect(vmptrldCase(2 ** 40)).toEqual({ flags: ZF, error: 9, touched: 0 });
  });
  it('a misaligned VMCS pointer: error 9', () => {
    expect(vmptrldCase(VMCS + 0x10)).toEqual({ flags: ZF, error: 9, touched: 0 });
  });
  it('the VMXON region as VMCS: error 10', () => {
    expect(vmptrldCase(VMXON)).toEqual({ flags: ZF, error: 10, touched: 0 });
  });
  it('a region whose revision has the shadow-VMCS bit: error 11', () => {
    const { cpu, mem } = vmxCpu();
    setPointers(mem, 0x22000);
    mem.write(0x22000, 4, (VMCS_REVISION | 0x80000000) >>> 0);
    cpu.s.gpr[4] = 0x8000;
    run(cpu, mem, [...VMXON_I, ...VMPTRLD_GOOD, ...VMPTRLD, ...PUSHF_POP_EDI, ...VMREAD_ERR, ...HLT]);
    expect([cpu.s.gpr[7]! & (CF | ZF), cpu.s.gpr[6]]).toEqual([ZF, 11]);
  });
  it('VMXON of a region in MMIO: VMfailInvalid, no device access', () => {
    const { cpu, mem, mmioTouched } = vmxCpu();
    setPointers(mem, 0);
    mem.write(PTR, 4, MMIO);
    cpu.s.gpr[4] = 0x8000;
    run(cpu, mem, [...VMXON_I, ...PUSHF_POP_EDI, ...HLT]);
    expect(cpu.s.gpr[7]! & (CF | ZF)).toBe(CF);
    expect(mmioTouched()).toBe(0);
    expect(cpu.vmx!.inVmx).toBe(false);
  });
});

describe('VMCSs of random bytes', () => {
  it('VMLAUNCH of 300 random VMCSs (and MSR areas, bitmaps, EPT pointers) never throws', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    let entered = 0, failedValid = 0, entryFailures = 0;
    for (let n = 0; n < 300; n++) {
      const { cpu, mem, mmioTouched } = vmxCpu();
      setPointers(mem, VMCS);
      cpu.s.gpr[4] = 0x8000;
      // VMXON, VMCLEAR, VMPTRLD: then overwrite the cached VMCS with random fields, sometimes
      // keeping the good host state so that more VM entries get through to the guest checks.
      run(cpu, mem, [...VMXON_I, ...VMCLEAR_GOOD, ...VMPTRLD_GOOD, ...HLT]);
      const v = cpu.vmx!.vmcs!;
      for (let i = 0; i < v.lo.length; i++) {
        const r = rnd();
        v.lo[i] = r & 8 ? rnd() : r & 16 ? 0xffffffff : rnd() & 0xfff;
        v.hi[i] = r & 32 ? rnd() : 0;
      }
      if (n % 2 === 0) {
        // Plausible controls and host state.
        v.set(F.PIN_CONTROLS, 0x16 | (rnd() & 0x49));
        v.set(F.PROC_CONTROLS, (0x04006172 | (rnd() & 0xf3f89e8c)) >>> 0);
        v.set(F.PROC_CONTROLS2, rnd() & 0xaa);
        v.set(F.EXIT_CONTROLS, 0x36dfb | (rnd() & 0x7c8000));
        v.set(F.ENTRY_CONTROLS, 0x11fb | (rnd() & 0xc000));
        v.set(F.HOST_CR0, cpu.s.cr0);
        v.set(F.HOST_CR4, cpu.s.cr4);
        v.set(F.HOST_CR3, 0x1000);
        v.set(F.HOST_CS_SEL, 8);
        v.set(F.HOST_SS_SEL, 0x10);
        v.set(F.HOST_TR_SEL, 0x18);
        for (const f of [F.HOST_ES_SEL, F.HOST_DS_SEL, F.HOST_FS_SEL, F.HOST_GS_SEL]) v.set(f, 0x10);
        v.set(F.HOST_RIP, CODE + 0x100);
        mem.write(CODE + 0x100, 1, 0xf4);
        v.set(F.VMCS_LINK_POINTER, 0xffffffff, 0xffffffff);
      }
      cpu.s.eip = CODE;
      for (let i = 0; i < VMLAUNCH.length; i++) mem.write(CODE + i, 1, VMLAUNCH[i]!);
      mem.write(CODE + 3, 1, 0xf4);
      cpu.s.halted = false;
      expect(() => cpu.run(3000)).not.toThrow();
      if (cpu.vmx!.nonRoot) entered++;
      else if (v.get(F.EXIT_REASON) >>> 31) entryFailures++;
      else failedValid++;
      expect(mmioTouched()).toBe(0);
    }
    // The set exercised every outcome.
    expect(failedValid).toBeGreaterThan(0);
    expect(entryFailures + entered).toBeGreaterThan(0);
  });
});

describe('VMX state in snapshots', () => {
  it('a CPU in VMX root operation with a current VMCS round-trips; an old stream leaves VMX', () => {
    const { cpu, mem } = vmxCpu();
    setPointers(mem, VMCS);
    cpu.s.gpr[4] = 0x8000;
    run(cpu, mem, [...VMXON_I, ...VMPTRLD_GOOD, ...HLT]);
    cpu.vmx!.vmcs!.set(F.CR0_MASK, 0x1234);
    const data = JSON.parse(JSON.stringify(cpu.saveState()));
    const b = vmxCpu().cpu;
    b.loadState(data, cpu.stateVersion);
    expect(b.vmx!.inVmx).toBe(true);
    expect(b.vmx!.currentPtr).toBe(VMCS);
    expect(b.vmx!.vmcs!.get(F.CR0_MASK)).toBe(0x1234);
    const c = vmxCpu().cpu;
    const old = { ...data };
    delete old.vmx;
    c.loadState(old, 4);
    expect(c.vmx!.inVmx).toBe(false);
    expect(() => b.loadState({ ...data, vmx: { ...data.vmx, nonRoot: true, currentPtr: -1 } }, 5)).toThrow(/VMX/);
  });
});
