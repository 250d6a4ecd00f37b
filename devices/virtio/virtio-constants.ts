/**
 * Numbers of the virtio 1.1 specification (OASIS, 2019) that the transport, the virtqueues
 * and the device models share: device status bits (2.1), reserved feature bits (6), the
 * split-ring descriptor flags (2.6.5) and the ISR bits (4.1.4.5).
 */

// --- Device status field (2.1) ---------------------------------------------------------------
export const STATUS_ACKNOWLEDGE = 0x01;
export const STATUS_DRIVER = 0x02;
export const STATUS_DRIVER_OK = 0x04;
export const STATUS_FEATURES_OK = 0x08;
/** The device hit an error it cannot recover from until the driver resets it. */
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

// --- Reserved feature bits (6); bit numbers ---------------------------------------------------
/** Legacy: interrupt when the avail ring runs empty even if suppressed (not offered). */
export const F_NOTIFY_ON_EMPTY = 24;
/** Legacy: the device accepts any framing of headers and data over descriptors. */
export const F_ANY_LAYOUT = 27;
export const F_RING_INDIRECT_DESC = 28;
export const F_RING_EVENT_IDX = 29;
/** The driver speaks virtio 1.x (modern interface); never visible to a legacy driver. */
export const F_VERSION_1 = 32;

/** A 64-bit feature mask as a bigint with bit `n` set. */
export function featureBit(n: number): bigint {
  return 1n << BigInt(n);
}

export function hasFeature(features: bigint, n: number): boolean {
  return (features & featureBit(n)) !== 0n;
}

// --- Split virtqueue (2.6) --------------------------------------------------------------------
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks for no interrupts (ignored with EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device asks for no notifications (ignored with EVENT_IDX). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Size of one descriptor in bytes. */
export const VIRTQ_DESC_SIZE = 16;
/** The largest queue size a split virtqueue may have (2.6). */
export const VIRTQ_MAX_SIZE = 32768;
/** Legacy interface: the used ring starts on this alignment (2.6.2). */
export const VIRTIO_LEGACY_VRING_ALIGN = 4096;

// --- ISR status (4.1.4.5) ---------------------------------------------------------------------
export const ISR_QUEUE = 0x01;
export const ISR_CONFIG = 0x02;

/** MSI-X vector register value meaning "no vector" (4.1.4.3, 4.1.5.1.2). */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;
