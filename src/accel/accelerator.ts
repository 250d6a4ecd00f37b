/**
 * The accelerator layer: interchangeable execution engines behind one interface. The
 * interpreter defines the semantics; a JIT or host KVM must behave identically (tested
 * against it). Port and MMIO accesses are dispatched synchronously through the buses the
 * engine was built with, so every engine drives the same devices.
 */

/** Why `run` returned. */
export const enum RunExit {
  /** Virtual time reached the requested deadline. */
  Deadline = 0,
  /** The vCPU halted and nothing is pending: the board may sleep until the next event. */
  Halted = 1,
  /** Someone asked for an early return (a device request, stop, a pending reset). */
  Requested = 2,
  /** Triple fault: the board resets (or stops with -no-reboot). */
  TripleFault = 3,
}

export interface Accelerator {
  /** Engine name as `info accel` and the status line show it. */
  readonly name: string;
  /** Runs the vCPU until virtual time reaches `untilNs`, or it halts, or a request or shutdown. */
  run(untilNs: number): RunExit;
  /** Makes a running `run` return at the next instruction boundary. */
  requestExit(): void;
  /** Instructions retired since power-on (for the status line's instructions per second). */
  readonly instructionsRetired: number;
}

/** Names accepted by `-accel`. `tcg` is QEMU's name for its software engine; ours is the interpreter. */
export const ACCEL_NAMES = ['interp', 'tcg', 'jit', 'kvm'] as const;
