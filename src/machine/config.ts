/**
 * MachineConfig: everything that decides what machine gets built, as plain data. The CLI
 * and the library both produce one; the Machine builds itself from it. Host-side
 * collaborators (where serial output goes, the logger) are passed separately as
 * MachineBackends, because they are not part of the machine and never saved.
 */
import type { CharBackend } from '../chardev/chardev.js';
import type { ClockMode } from './clock.js';
import type { Logger } from './log.js';
import type { NetBackend } from '../net/net-backend.js';
import type { DriveBackend, VirtioDeviceConfig } from './virtio-board.js';
import type { SmbiosConfig } from './smbios/smbios-tables.js';

export interface DebugExitConfig {
  iobase: number;
  iosize: number;
}

export interface FwCfgFileConfig {
  name: string;
  data: Uint8Array;
}

/** `-kernel` / `-initrd` / `-append`: direct kernel boot (src/machine/boot/). */
export interface KernelBootConfig {
  /** The kernel file as the user named it (multiboot passes it at the head of the command line). */
  fileName: string;
  data: Uint8Array;
  /** `-append` ('' when absent). */
  cmdline: string;
  /**
   * `-initrd`: for a Linux kernel at most one entry, the initrd; for a multiboot kernel the
   * modules, each with its string as QEMU passes it (the file name, then any arguments).
   */
  initrd: { name: string; data: Uint8Array }[];
}

export interface MachineConfig {
  /** Guest RAM in bytes (multiple of 4 KiB). */
  memoryBytes: number;
  /** BIOS image (mapped below 4 GiB, last 128 KiB aliased below 1 MiB); default: the demo firmware. */
  bios?: Uint8Array;
  /** Execution engine: the JIT (interpreter plus translated blocks) or the interpreter alone. */
  accel: 'interp' | 'jit';
  clock: ClockMode;
  /** `-no-reboot`: a reset request (or triple fault) ends the VM instead. */
  noReboot: boolean;
  /** `-no-shutdown`: a guest power-off stops the VM instead of ending it. */
  noShutdown: boolean;
  /** `-S`: start with the CPU stopped. */
  startStopped: boolean;
  /** isa-debug-exit devices (`-device isa-debug-exit,iobase=…,iosize=…`). */
  debugExits: DebugExitConfig[];
  /** Number of COM ports present (their back ends come in MachineBackends). */
  serialPorts: number;
  /** Extra fw_cfg files (`-fw_cfg name=…,string=…`). */
  fwCfgFiles: FwCfgFileConfig[];
  /** `-name`. */
  name?: string;
  /**
   * What the RTC shows at virtual time 0, in ms since 1970 (UTC, or local wall time for
   * `-rtc base=localtime`). The CLI sets it from the host clock at startup; default
   * DEFAULT_RTC_BASE_MS, so that a machine built without it runs the same every time.
   */
  rtcBaseMs?: number;
  /** Direct kernel boot instead of running the BIOS from the reset vector. */
  kernel?: KernelBootConfig;
  /** `-cpu`: a CPU model name (src/cpu/x86/cpu-model.ts); default the `pcvm` model. */
  cpuModel?: string;
  /** The HPET at 0xFED00000 (`-machine hpet=off` removes it); default present, as on QEMU's pc. */
  hpet?: boolean;
  /** virtio-blk-pci / virtio-net-pci functions (src/machine/virtio-board.ts). */
  virtioDevices?: VirtioDeviceConfig[];
  /** `-smbios type=0/1` and `-uuid` (src/machine/smbios/): the SMBIOS tables of direct boot. */
  smbios?: SmbiosConfig;
}

/** The RTC's default start: 2000-01-01T00:00:00Z. */
export const DEFAULT_RTC_BASE_MS = Date.UTC(2000, 0, 1);

export const DEFAULT_MEMORY_BYTES = 128 * 1024 * 1024;

export function defaultMachineConfig(overrides: Partial<MachineConfig> = {}): MachineConfig {
  return {
    memoryBytes: DEFAULT_MEMORY_BYTES,
    accel: 'interp',
    clock: { kind: 'realtime' },
    noReboot: false,
    noShutdown: false,
    startStopped: false,
    debugExits: [],
    serialPorts: 1,
    fwCfgFiles: [],
    ...overrides,
  };
}

export interface MachineBackends {
  /** Back end of COM1..COM4 (index 0 = COM1). A missing entry discards output. */
  serial: (CharBackend | undefined)[];
  log: Logger;
  /** Opened drives the virtio-blk devices name (closed when the VM ends). */
  drives?: DriveBackend[];
  /** Opened netdevs the NICs name (closed when the VM ends). */
  netdevs?: NetBackend[];
}
