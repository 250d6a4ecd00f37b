/**
 * Direct kernel boot (`-kernel`, `-initrd`, `-append`): pcvm has no BIOS for it, so the board
 * itself acts as the boot loader. The image is parsed once, when the machine is built, into a
 * BootPlan — the bytes to place in guest RAM and the CPU state to start in — and the plan is
 * applied at power-on and after every reset (QEMU reloads the kernel on reboot too: its loader
 * blobs are ROMs re-copied at reset).
 *
 * Which protocol, as QEMU's x86 load_linux decides: a setup header with the "HdrS" magic makes
 * it a Linux bzImage, even if a multiboot header is present; otherwise a multiboot v1 header in
 * the first 8 KiB makes it a multiboot kernel; anything else is refused.
 */
import { ConfigError } from '../../errors.js';
import type { X86Cpu } from '../../cpu/x86/cpu.js';
import type { PhysicalMemory } from '../../memory/physical-memory.js';
import type { KernelBootConfig } from '../config.js';
import { enterFlatProtectedMode, type EntryState } from './entry-state.js';
import { isLinuxImage, planLinuxBoot } from './linux-boot.js';
import { findMultibootHeader, planMultibootBoot } from './multiboot.js';

/** One contiguous block the loader writes into guest RAM. */
export interface BootPiece {
  /** What it is, for error messages ("initrd", "multiboot info"). */
  what: string;
  addr: number;
  data: Uint8Array;
}

export interface BootPlan {
  protocol: 'linux' | 'multiboot';
  pieces: BootPiece[];
  entry: EntryState;
  /** Things the user should know that do not stop the boot (QEMU prints them too). */
  warnings: string[];
}

/** What the loaders need to know about the board. */
export interface BootBoard {
  memoryBytes: number;
  /** True when guest-physical `[addr, addr + len)` is RAM (PhysicalMemory.isRam). */
  isRam(addr: number, len: number): boolean;
}

/** True when the kernel image would be booted with the multiboot protocol. */
export function isMultibootKernel(kernel: Uint8Array): boolean {
  return !isLinuxImage(kernel) && findMultibootHeader(kernel) !== undefined;
}

/**
 * Parses and validates the kernel (and initrd or modules) and lays everything out. Throws a
 * ConfigError with a one-line message for anything malformed or anything that does not fit.
 */
export function planDirectBoot(config: KernelBootConfig, board: BootBoard): BootPlan {
  let plan: BootPlan;
  if (isLinuxImage(config.data)) {
    plan = planLinuxBoot(config, board);
  } else if (findMultibootHeader(config.data) !== undefined) {
    plan = planMultibootBoot(config, board);
  } else {
    throw new ConfigError(`-kernel ${config.fileName}: not a Linux bzImage (no "HdrS" setup header) nor a multiboot kernel`);
  }
  checkPieces(config.fileName, plan.pieces, board);
  return plan;
}

/** Every piece must lie in RAM and no two may overlap (a loader that overwrote itself would boot garbage). */
function checkPieces(fileName: string, pieces: BootPiece[], board: BootBoard): void {
  const hex = (n: number) => `0x${n.toString(16)}`;
  for (const p of pieces) {
    if (p.data.length > 0 && !board.isRam(p.addr, p.data.length)) {
      throw new ConfigError(
        `-kernel ${fileName}: the ${p.what} (${hex(p.addr)}-${hex(p.addr + p.data.length - 1)}) does not fit in guest RAM ` +
          `(${Math.floor(board.memoryBytes / (1024 * 1024))} MiB)`,
      );
    }
  }
  const sorted = pieces.filter((p) => p.data.length > 0).sort((a, b) => a.addr - b.addr);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.addr < a.addr + a.data.length) {
      throw new ConfigError(
        `-kernel ${fileName}: the ${b.what} at ${hex(b.addr)} overlaps the ${a.what} (${hex(a.addr)}-${hex(a.addr + a.data.length - 1)})`,
      );
    }
  }
}

/** Writes the plan into RAM and starts the CPU at the kernel's entry. Run after device and CPU reset. */
export function applyBootPlan(plan: BootPlan, memory: PhysicalMemory, cpu: X86Cpu): void {
  for (const p of plan.pieces) memory.writeBytes(p.addr, p.data);
  enterFlatProtectedMode(cpu, plan.entry);
}
