/**
 * MachineControl: the one API through which monitors, UIs, the library and tests drive a
 * machine. Nothing outside src/machine pokes device internals; it comes through here.
 */
import type { PciDeviceInfo } from './pci-board.js';
import type { BlockInfo } from './virtio-board.js';
import type { MemoryMapRegion } from '../memory/physical-memory.js';

/** QEMU's run states, as `info status` and `query-status` name them. */
export type RunState = 'running' | 'paused' | 'prelaunch' | 'shutdown' | 'internal-error';

/** Why the VM ended (QMP SHUTDOWN reasons). */
export type ShutdownReason = 'guest-shutdown' | 'guest-reset' | 'host-qmp-quit' | 'host-ui' | 'guest-panic' | 'debug-exit';

export interface MachineEvents {
  stop: () => void;
  resume: () => void;
  reset: (guest: boolean) => void;
  shutdown: (guest: boolean, reason: ShutdownReason) => void;
  powerdown: () => void;
  /** The VM is over: pcvm should exit with this status. */
  exit: (status: number, reason: string) => void;
}

export interface MachineStatus {
  running: boolean;
  state: RunState;
}

/** The CPU registers that select and locate the paging structures (HMP info mem / info tlb). */
export interface PagingRegisters {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
}

export interface MachineControl {
  status(): MachineStatus;
  /** Pauses the VM (virtual time stands still). */
  stop(): void;
  /** Resumes a paused VM. */
  cont(): void;
  /** Resets the machine as the reset button does. */
  reset(): void;
  /** Presses the ACPI power button (the guest decides what to do). */
  powerdown(): void;
  /** Ends the VM: pcvm exits with status 0. */
  quit(): void;
  /** `info lapic`: the local APIC's registers in QEMU's format. */
  infoLapic(): string;
  /** `info ioapic`: the I/O APIC's redirection table in QEMU's format. */
  infoIoapic(): string;
  /** The drives (QMP query-block, HMP info block). */
  queryBlock(): BlockInfo[];
  /** HMP `info network`: the NICs and their back ends. */
  infoNetwork(): string;
  /** The PCI functions (QMP query-pci, HMP info pci). */
  queryPci(): PciDeviceInfo[];
  /** Guest-physical bytes without side effects on RAM/ROM (HMP xp, pmemsave); undefined if unassigned. */
  readPhysical(addr: number, len: number): Uint8Array | undefined;
  /** Bytes at a linear address through the CPU's paging, without faults or A/D updates (HMP x, memsave). */
  readVirtual(addr: bigint, len: number): Uint8Array | undefined;
  /** The physical memory map and the I/O port map (HMP info mtree). */
  memoryMap(): { memory: MemoryMapRegion[]; io: { name: string; base: number; length: number }[] };
  /**
   * Replaces the enabled `-d` items (HMP `log`); false when this machine's logger cannot be
   * reconfigured (a library user's own Logger).
   */
  setLogItems(items: string[]): boolean;
  /** Appends later log lines to `path` (HMP `logfile`); an error message, or undefined on success. */
  setLogFile(path: string): string | undefined;
  /** CR0, CR3, CR4 and EFER of CPU 0. */
  pagingRegisters(): PagingRegisters;
  /** Port input as the CPU's IN would do it (HMP `i`). */
  portRead(port: number, size: 1 | 2 | 4): number;
  /** Port output as the CPU's OUT would do it (HMP `o`). */
  portWrite(port: number, size: 1 | 2 | 4, value: number): void;
}
