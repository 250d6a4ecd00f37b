/**
 * Physical-memory accesses the VMX logic itself makes: VMCS and VMXON regions, I/O and MSR
 * bitmaps, MSR load/store areas, EPT paging structures. They reach guest RAM only: every
 * address is untrusted (it comes from a VMCS or an instruction operand), so an access
 * outside RAM (MMIO, ROM, unassigned, beyond the address width) reads as all ones — what an
 * unclaimed bus cycle returns — and a write there is dropped. No device ever sees such a cycle.
 */
import type { PhysicalMemory } from '../../../memory/physical-memory.js';

export function physRead32(mem: PhysicalMemory, addr: number): number {
  return mem.isRam(addr, 4) ? mem.read(addr, 4) >>> 0 : 0xffffffff;
}

export function physWrite32(mem: PhysicalMemory, addr: number, v: number): void {
  if (mem.isRam(addr, 4)) mem.write(addr, 4, v >>> 0);
}

export function physRead8(mem: PhysicalMemory, addr: number): number {
  return mem.isRam(addr, 1) ? mem.read(addr, 1) : 0xff;
}

/** Reads a 64-bit value as [low, high]. */
export function physRead64(mem: PhysicalMemory, addr: number): [number, number] {
  return [physRead32(mem, addr), physRead32(mem, addr + 4)];
}
