/**
 * The CMOS RAM bytes a PC board fills in at power-on for its firmware, as QEMU's
 * pc_cmos_init does for SeaBIOS (hw/i386/pc.c) with the IBM AT layout:
 *
 *   0x14        equipment byte: bit 1 FPU present, bit 2 PS/2 mouse, bits 7-6 and 0 floppies
 *   0x15/0x16   base memory in KiB (640)
 *   0x17/0x18   extended memory above 1 MiB in KiB, at most 0xFFFF (AT BIOS field)
 *   0x2E/0x2F   checksum of 0x10-0x2D, high byte first
 *   0x30/0x31   the same extended memory size (the copy the POST leaves for INT 15h AH=88h)
 *   0x34/0x35   memory between 16 MiB and 4 GiB in 64 KiB units, at most 0xFFFF
 *   0x5B-0x5D   memory above 4 GiB in 64 KiB units (24 bits)
 *   0x5F        number of CPUs minus one
 *
 * Not set yet: floppy types (0x10), hard disk types (0x12, 0x19/0x1A) and the boot order
 * (0x38, 0x3D), which come with the disk controllers.
 */
import { withCmosChecksum } from './mc146818.js';

const KIB = 1024;
const MIB = 1024 * 1024;

export interface PcCmosMemory {
  /** RAM below 4 GiB in bytes (what the board maps from 0). */
  belowFourGBytes: number;
  /** RAM mapped from 4 GiB up, in bytes. */
  aboveFourGBytes: number;
  cpus?: number;
}

/** The [index, value] pairs for the RTC's `nvram`, checksum included. */
export function pcCmosNvram(m: PcCmosMemory): [number, number][] {
  const bytes: [number, number][] = [];
  const set16 = (lo: number, v: number) => bytes.push([lo, v & 0xff], [lo + 1, (v >> 8) & 0xff]);
  bytes.push([0x14, 0x02 | 0x04]); // FPU, PS/2 mouse; no floppy drives; VGA/EGA display
  set16(0x15, 640);
  const extendedKib = Math.min(0xffff, m.belowFourGBytes > MIB ? Math.floor((m.belowFourGBytes - MIB) / KIB) : 0);
  set16(0x17, extendedKib);
  set16(0x30, extendedKib);
  const above16m = Math.min(0xffff, m.belowFourGBytes > 16 * MIB ? Math.floor((m.belowFourGBytes - 16 * MIB) / (64 * KIB)) : 0);
  set16(0x34, above16m);
  const high = Math.floor(m.aboveFourGBytes / (64 * KIB));
  bytes.push([0x5b, high & 0xff], [0x5c, (high >> 8) & 0xff], [0x5d, (high >> 16) & 0xff]);
  bytes.push([0x5f, Math.max(0, (m.cpus ?? 1) - 1) & 0xff]);
  return withCmosChecksum(bytes);
}
