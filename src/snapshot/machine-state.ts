/**
 * A whole Machine's state to and from one stream (vmstate-stream.ts): the board's own facts
 * (virtual clock, instruction count, a pending reset/power-off request), the CPU, every
 * Device by its id with its `stateVersion`, and RAM.
 *
 * Saving is generic: any Device the board lists is saved, so devices added later (virtio)
 * need no change here. A device that cannot be saved yet says so in `migrationBlocker`, and
 * saving fails with QEMU's "State blocked by non-migratable device" instead of leaving its
 * state out.
 *
 * Loading never leaves a half-loaded VM:
 *  1. `stageVmState` inflates and decodes the stream and checks it against this machine (same
 *     RAM size and CPU model, exactly the same set of component ids, the board's fields in
 *     range) without touching the machine;
 *  2. `applyVmState` saves the current state of the clock, CPU and devices in memory, then
 *     loads the staged ones in order (the clock first, so that devices re-arm their absolute
 *     deadlines against the restored virtual time). Each `loadState` validates its fields
 *     before changing anything; if one refuses, everything already loaded is put back from
 *     the in-memory copy and the error is rethrown. RAM is written last, when nothing can
 *     fail any more.
 */
import { SnapshotError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import type { PendingRequest } from '../machine/machine.js';
import { expectInt, expectNumber, expectRecord } from './validate.js';
import { decodeVmState, encodeVmState, RAM_PAGE_BYTES, type ComponentState, type DecodedVmState } from './vmstate-stream.js';

/** The board-level section. */
export interface MachineSection {
  /** RAM size; must equal the loading machine's. */
  ramBytes: number;
  /** `-cpu` model name; must equal the loading machine's (CPUID would change under the guest). */
  cpuModel: string;
  /** Virtual time in ns. */
  clockNs: number;
  /** Instructions retired since power-on (the -icount replay position). */
  instructions: number;
  /** A device's reset or power-off request not yet handled by the run loop. */
  pending: PendingRequest;
}

/** Anything saved as one component: the CPU and every Device. */
interface Saveable {
  readonly id: string;
  readonly stateVersion: number;
  saveState(): unknown;
  loadState(state: unknown, version: number): void;
  readonly migrationBlocker?: string;
}

/** Room for the component states on top of RAM when capping inflation. */
const NON_RAM_BODY_MAX = 64 * 1024 * 1024;

const PENDING: readonly PendingRequest[] = ['none', 'reset', 'shutdown'];

function components(m: Machine): Saveable[] {
  const cpu: Saveable = { id: 'cpu', stateVersion: m.cpu.stateVersion, saveState: () => m.cpu.saveState(), loadState: (s, v) => m.cpu.loadState(s, v) };
  const list: Saveable[] = [cpu, ...m.devices];
  const seen = new Set<string>();
  for (const c of list) {
    if (seen.has(c.id)) throw new SnapshotError(`vmstate: two components are named '${c.id}'`);
    seen.add(c.id);
  }
  return list;
}

function cpuModelName(m: Machine): string {
  return m.config.cpuModel ?? 'pcvm';
}

/**
 * The machine's state as a stream. The VM must not be running (the caller stops it).
 * Throws SnapshotError naming a device that blocks migration.
 */
export function saveVmState(m: Machine): Uint8Array {
  const list = components(m);
  for (const c of list) {
    if (c.migrationBlocker !== undefined) throw new SnapshotError(`State blocked by non-migratable device '${c.id}': ${c.migrationBlocker}`);
  }
  // Timers already due fire now, as the run loop would before the next instruction: the
  // saved state then holds no deadline in the past, and a loaded machine re-arms exactly the
  // timers the source has.
  m.clock.runDueTimers();
  const section: MachineSection = {
    ramBytes: m.memory.ram.length,
    cpuModel: cpuModelName(m),
    clockNs: m.clock.nowNs(),
    instructions: m.cpu.retired,
    pending: m.pendingRequest,
  };
  const states: ComponentState[] = list.map((c) => ({ id: c.id, version: c.stateVersion, data: c.saveState() }));
  return encodeVmState(section, states, m.memory.ram);
}

/** A stream decoded and checked against a machine, ready for `applyVmState`. */
export interface StagedVmState {
  readonly machine: MachineSection;
  readonly decoded: DecodedVmState;
  /** Stream states in this machine's component order. */
  readonly ordered: ComponentState[];
}

function parseMachineSection(value: unknown): MachineSection {
  const r = expectRecord(value, 'vmstate machine section');
  const w = 'vmstate machine';
  const cpuModel = r['cpuModel'];
  if (typeof cpuModel !== 'string') throw new SnapshotError(`${w}.cpuModel: expected a string`);
  const pending = r['pending'];
  if (!PENDING.includes(pending as PendingRequest)) throw new SnapshotError(`${w}.pending: expected one of ${PENDING.join(', ')}`);
  return {
    ramBytes: expectInt(r, 'ramBytes', 0, Number.MAX_SAFE_INTEGER, w),
    cpuModel,
    clockNs: expectNumber(r, 'clockNs', 0, Number.MAX_SAFE_INTEGER, w),
    instructions: expectInt(r, 'instructions', 0, Number.MAX_SAFE_INTEGER, w),
    pending: pending as PendingRequest,
  };
}

/** Decodes `stream` and checks that it fits `m`. Changes nothing. */
export function stageVmState(m: Machine, stream: Uint8Array): StagedVmState {
  const ram = m.memory.ram;
  const decoded = decodeVmState(stream, ram.length + NON_RAM_BODY_MAX);
  const machine = parseMachineSection(decoded.machine);
  if (machine.ramBytes !== ram.length || decoded.ramBytes !== ram.length) {
    throw new SnapshotError(`vmstate: the state is of a machine with ${decoded.ramBytes / (1024 * 1024)} MiB of RAM, this one has ${ram.length / (1024 * 1024)} MiB`);
  }
  if (machine.cpuModel !== cpuModelName(m)) {
    throw new SnapshotError(`vmstate: the state is of a '${machine.cpuModel}' CPU, this machine has '${cpuModelName(m)}'`);
  }
  const byId = new Map(decoded.components.map((c) => [c.id, c]));
  const ordered: ComponentState[] = [];
  for (const c of components(m)) {
    const s = byId.get(c.id);
    if (!s) throw new SnapshotError(`vmstate: no state for '${c.id}' (the stream is of a machine without it)`);
    ordered.push(s);
    byId.delete(c.id);
  }
  const extra = [...byId.keys()];
  if (extra.length > 0) throw new SnapshotError(`vmstate: state for '${extra[0]}', which this machine does not have`);
  return { machine, decoded, ordered };
}

/**
 * Loads staged state into `m` (stopped). `beforeRam` runs once every component has accepted
 * its state and before RAM is overwritten (loadvm reverts the disks there); if a component or
 * `beforeRam` throws, the machine is put back as it was and the error propagates.
 */
export function applyVmState(m: Machine, staged: StagedVmState, beforeRam?: () => void): void {
  const list = components(m);
  const backup = {
    clockNs: m.clock.nowNs(),
    instructions: m.cpu.retired,
    pending: m.pendingRequest,
    states: list.map((c) => ({ version: c.stateVersion, data: c.saveState() })),
  };
  const restore = (): void => {
    m.clock.loadState({ nowNs: backup.clockNs });
    list.forEach((c, i) => c.loadState(backup.states[i]!.data, backup.states[i]!.version));
    m.cpu.retired = backup.instructions;
    m.pendingRequest = backup.pending;
  };
  try {
    m.clock.loadState({ nowNs: staged.machine.clockNs });
    list.forEach((c, i) => c.loadState(staged.ordered[i]!.data, staged.ordered[i]!.version));
    beforeRam?.();
  } catch (e) {
    restore();
    throw e;
  }
  m.cpu.retired = staged.machine.instructions;
  m.pendingRequest = staged.machine.pending;
  const ram = m.memory.ram;
  // Zero only the pages between the runs that are not zero already: a plain fill would make
  // the host commit every untouched page of a large, mostly empty RAM.
  const words = new Uint32Array(ram.buffer, ram.byteOffset, ram.length / 4);
  const zeroGap = (fromPage: number, toPage: number): void => {
    for (let p = fromPage; p < toPage; p++) {
      const w0 = p * (RAM_PAGE_BYTES / 4);
      for (let i = w0; i < w0 + RAM_PAGE_BYTES / 4; i++) {
        if (words[i] !== 0) {
          words.fill(0, w0, w0 + RAM_PAGE_BYTES / 4);
          break;
        }
      }
    }
  };
  let next = 0;
  for (const run of staged.decoded.ramRuns) {
    zeroGap(next, run.firstPage);
    ram.set(run.bytes, run.firstPage * RAM_PAGE_BYTES);
    next = run.firstPage + run.bytes.length / RAM_PAGE_BYTES;
  }
  zeroGap(next, ram.length / RAM_PAGE_BYTES);
  // All of RAM changed: translated code (the JIT's blocks) made from it is stale.
  m.memory.noteRamWrite(0, ram.length);
}

/** Stage and apply in one step (migration, tests). */
export function loadVmState(m: Machine, stream: Uint8Array): void {
  applyVmState(m, stageVmState(m, stream));
}
