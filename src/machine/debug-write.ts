/**
 * Debugger writes to guest memory (gdb's M and X packets): the counterpart of
 * debug-access.ts's reads. A linear address is translated through the CPU's paging without
 * faults, accessed/dirty updates or TLB fills, and ignoring write protection, as QEMU's
 * cpu_memory_rw_debug does (a debugger may patch read-only code).
 *
 * Only RAM is written. XXX: QEMU also writes ROM and MMIO from its debugger; pcvm refuses
 * them (the write fails as a whole, nothing is changed).
 */
import type { X86Cpu } from '../cpu/x86/cpu.js';
import { Access, pagingMode, PagingMode } from '../cpu/x86/paging.js';

const PAGE = 4096;

/** Writes `data` at linear address `lin`; false (and nothing written) if any byte is not RAM. */
export function writeVirtualDebug(cpu: X86Cpu, lin: bigint, data: Uint8Array): boolean {
  const long = pagingMode(cpu.s) === PagingMode.Level4;
  const pieces: { ram: number; from: number; len: number }[] = [];
  for (let i = 0; i < data.length;) {
    let a = BigInt.asUintN(64, lin + BigInt(i));
    if (long) {
      const top = a >> 47n;
      if (top !== 0n && top !== 0x1ffffn) return false; // non-canonical
      a &= (1n << 48n) - 1n;
    } else {
      a &= 0xffffffffn;
    }
    const pa = cpu.mmu.probe(Number(a), Access.Read, false);
    if (pa < 0) return false;
    const n = Math.min(data.length - i, PAGE - (pa % PAGE));
    const ram = cpu.bus.mem.ramOffsetOf(pa, n);
    if (ram < 0) return false;
    pieces.push({ ram, from: i, len: n });
    i += n;
  }
  const mem = cpu.bus.mem.ram;
  for (const p of pieces) {
    mem.set(data.subarray(p.from, p.from + p.len), p.ram);
    // gdb may patch code: drop the JIT's translations of these bytes.
    cpu.bus.mem.noteRamWrite(p.ram, p.len);
  }
  // The CPU caches the current code page: a patched instruction must be fetched again.
  cpu.invalidateFetch();
  return true;
}
