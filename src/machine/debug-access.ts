/**
 * Debugger-style guest memory access for the monitor (x/xp, memsave, info mem/tlb) and
 * other diagnostics: reads that never fault, never set accessed/dirty bits and never fill
 * the TLB (QEMU's cpu_memory_rw_debug / address_space_read).
 *
 * RAM and ROM are read directly. An MMIO page is read through its device with aligned dword
 * reads, as QEMU's monitor reads MMIO through the memory API. Unassigned physical memory, or
 * a linear address whose translation would fault, is "not accessible" (undefined).
 */
import type { PhysicalMemory } from '../memory/physical-memory.js';
import { PageKind } from '../memory/physical-memory.js';
import type { X86Cpu } from '../cpu/x86/cpu.js';
import { Access, pagingMode, PagingMode } from '../cpu/x86/paging.js';

const PAGE = 4096;
const FOUR_GIB = 4294967296;

/** One byte of guest-physical memory, or -1 when nothing is there. */
function physicalByte(mem: PhysicalMemory, addr: number): number {
  if (!Number.isSafeInteger(addr) || addr < 0) return -1;
  if (addr < FOUR_GIB && mem.pageKind[Math.floor(addr / PAGE)] === PageKind.Mmio) {
    const word = mem.read(addr - (addr % 4), 4);
    return (word >>> (8 * (addr % 4))) & 0xff;
  }
  const buf = mem.directBuffer(addr);
  if (!buf) return -1;
  const off = mem.directOffset(addr);
  return off < 0 ? -1 : buf[off + (addr % PAGE)]!;
}

/** `len` bytes of guest-physical memory at `addr`, or undefined if any byte is unassigned. */
export function readPhysicalDebug(mem: PhysicalMemory, addr: number, len: number): Uint8Array | undefined {
  const ram = mem.ramOffsetOf(addr, len);
  if (ram >= 0 && len > 0) return mem.ram.slice(ram, ram + len);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const b = physicalByte(mem, addr + i);
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}

/**
 * `len` bytes at linear address `lin` under the CPU's current paging mode (supervisor read
 * rights), or undefined if a page is not mapped or not backed. Outside IA-32e mode the
 * address wraps at 4 GiB; in it, `lin` must be canonical (a bigint keeps all 64 bits).
 */
export function readVirtualDebug(cpu: X86Cpu, lin: bigint, len: number): Uint8Array | undefined {
  const long = pagingMode(cpu.s) === PagingMode.Level4;
  const out = new Uint8Array(len);
  // One translation per page; the bytes of a page are read physically.
  for (let i = 0; i < len;) {
    let a = BigInt.asUintN(64, lin + BigInt(i));
    if (long) {
      const top = a >> 47n;
      if (top !== 0n && top !== 0x1ffffn) return undefined; // non-canonical
      a &= (1n << 48n) - 1n;
    } else {
      a &= 0xffffffffn;
    }
    const pa = cpu.mmu.probe(Number(a), Access.Read, false);
    if (pa < 0) return undefined;
    const n = Math.min(len - i, PAGE - (pa % PAGE));
    const bytes = readPhysicalDebug(cpu.bus.mem, pa, n);
    if (!bytes) return undefined;
    out.set(bytes, i);
    i += n;
  }
  return out;
}
