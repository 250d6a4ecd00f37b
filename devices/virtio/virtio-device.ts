/**
 * The split between a virtio transport (virtio-pci here) and a device type (virtio-blk,
 * virtio-net), as in virtio 1.1 chapters 4 and 5: the transport owns status, features,
 * queues and interrupts; the device type owns its configuration space and what it does
 * with the buffers of its queues.
 */
import type { GuestMemory, Virtqueue } from './virtqueue.js';

/** What a device type may ask of its transport. */
export interface VirtioTransport {
  readonly mem: GuestMemory;
  /** The features the driver accepted (all of them once FEATURES_OK; legacy: at once). */
  readonly negotiated: bigint;
  /** Virtqueue `index` (its state belongs to the transport). */
  queue(index: number): Virtqueue;
  /** The device may work on its queues: DRIVER_OK, bus master on, not broken. */
  readonly running: boolean;
  /** Used entries were pushed on queue `index`: interrupt the driver if it wants one. */
  interruptQueue(index: number): void;
  /** The device configuration changed (config generation, config interrupt). */
  configChanged(): void;
  /**
   * Runs `f` for work that does not start from a queue notification (a frame arriving from
   * the network): a VirtqueueError or DmaError marks the device broken and yields `fallback`.
   */
  guarded<T>(f: () => T, fallback: T): T;
  /** Logs a guest error under `-d guest_errors`. */
  guestError(message: string): void;
}

export interface VirtioDeviceModel {
  /** Virtio device ID (5: 1 = network, 2 = block). */
  readonly deviceType: number;
  /** Maximum size of each queue (the queue count is this list's length). */
  readonly queueMaxSizes: readonly number[];
  /** Device-specific and ring features offered, without VERSION_1 (the transport adds it). */
  readonly deviceFeatures: bigint;
  /** Bytes of device configuration space. */
  readonly configSize: number;
  readonly stateVersion: number;
  attach(transport: VirtioTransport): void;
  /** Reads the device configuration (offset + size ≤ configSize, checked by the transport). */
  readConfig(offset: number, size: 1 | 2 | 4): number;
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /**
   * The driver notified queue `index`, or the device became ready: process what is available.
   * May throw VirtqueueError (the transport marks the device broken); never anything else
   * for the guest's doing.
   */
  processQueue(index: number): void;
  /** Device reset (status 0 or a bus reset): back to the power-on state of the device type. */
  reset(): void;
  saveState(): unknown;
  /** Throws SnapshotError when invalid; changes nothing. */
  validateState(state: unknown, version: number): void;
  loadState(state: unknown, version: number): void;
}
