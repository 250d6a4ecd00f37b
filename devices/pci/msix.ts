/**
 * MSI-X (PCI Local Bus Specification 3.0, 6.8.2): the vector table and pending-bit array a
 * function exposes in a memory BAR, and the delivery rules of its capability's Message
 * Control (6.8.2.3: bit 15 MSI-X Enable, bit 14 Function Mask, bits 10:0 table size − 1).
 *
 * Layout in the BAR as QEMU's msix_init_exclusive_bar puts it: the table at offset 0 (16
 * bytes per vector: message address low, high, data, vector control with bit 0 Mask), the
 * PBA at `MSIX_PBA_OFFSET`. Table entries power on masked (6.8.2.9). A vector that fires
 * while masked (entry or function) sets its pending bit and is sent when unmasked (6.8.2.10).
 *
 * The owner (the PCI function) keeps Message Control in its configuration space and tells
 * this table about changes with `setControl`. Reads and writes of any width within a DWORD
 * are accepted (the spec requires DWORD or QWORD; QEMU takes smaller ones too).
 */
import type { AccessSize } from '../../src/memory/io-bus.js';
import type { MmioHandler } from '../../src/memory/physical-memory.js';
import { expectIntArray } from '../../src/snapshot/validate.js';
import { SnapshotError } from '../../src/errors.js';
import type { MsiSink } from './msi.js';

export const PCI_CAP_ID_MSIX = 0x11;
/** Capability length: ID, next, Message Control, Table offset/BIR, PBA offset/BIR. */
export const MSIX_CAP_LENGTH = 12;
export const MSIX_CONTROL_ENABLE = 0x8000;
export const MSIX_CONTROL_FUNCTION_MASK = 0x4000;
/** Where the PBA starts in the BAR (QEMU: half of the 4 KiB exclusive BAR). */
export const MSIX_PBA_OFFSET = 0x800;
export const MSIX_BAR_SIZE = 0x1000;
const ENTRY_SIZE = 16;
const VECTOR_CTRL_MASK = 1;

/** Plain-data MSI-X state: the table as DWORDs (4 per vector) and the pending bits (0/1). */
export interface MsixState {
  table: number[];
  pending: number[];
}

export function defaultMsixState(vectors: number): MsixState {
  const table = new Array<number>(4 * vectors).fill(0);
  for (let v = 0; v < vectors; v++) table[4 * v + 3] = VECTOR_CTRL_MASK;
  return { table, pending: new Array<number>(vectors).fill(0) };
}

export class MsixTable implements MmioHandler {
  s: MsixState;
  private enabled = false;
  private functionMasked = false;

  constructor(readonly vectors: number, private readonly sink: MsiSink) {
    if (vectors < 1 || vectors > 64) throw new RangeError(`MSI-X: ${vectors} vectors do not fit the 4 KiB BAR layout`);
    this.s = defaultMsixState(vectors);
  }

  /** Message Control changed (or was loaded): remember it and send what became unmasked. */
  setControl(control: number): void {
    this.enabled = (control & MSIX_CONTROL_ENABLE) !== 0;
    this.functionMasked = (control & MSIX_CONTROL_FUNCTION_MASK) !== 0;
    for (let v = 0; v < this.vectors; v++) this.sendIfPending(v);
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Signals vector `v` (ignored when out of range: the caller checked it is a real vector). */
  notify(v: number): void {
    if (!this.enabled || v < 0 || v >= this.vectors) return;
    if (this.masked(v)) {
      this.s.pending[v] = 1;
      return;
    }
    this.send(v);
  }

  private masked(v: number): boolean {
    return this.functionMasked || (this.s.table[4 * v + 3]! & VECTOR_CTRL_MASK) !== 0;
  }

  private sendIfPending(v: number): void {
    if (this.enabled && this.s.pending[v] && !this.masked(v)) {
      this.s.pending[v] = 0;
      this.send(v);
    }
  }

  private send(v: number): void {
    const t = this.s.table;
    this.sink.sendMsi(t[4 * v]!, t[4 * v + 1]!, t[4 * v + 2]!);
  }

  mmioRead(offset: number, size: AccessSize): number {
    const dword = this.readDword(offset & ~3);
    const shift = 8 * (offset & 3);
    const mask = size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return ((dword >>> shift) & mask) >>> 0;
  }

  private readDword(offset: number): number {
    if (offset < ENTRY_SIZE * this.vectors) return this.s.table[offset >>> 2]! >>> 0;
    if (offset >= MSIX_PBA_OFFSET && offset < MSIX_PBA_OFFSET + 4 * Math.ceil(this.vectors / 32)) {
      const base = 32 * ((offset - MSIX_PBA_OFFSET) >>> 2);
      let bits = 0;
      for (let i = 0; i < 32 && base + i < this.vectors; i++) if (this.s.pending[base + i]) bits |= 1 << i;
      return bits >>> 0;
    }
    return 0;
  }

  mmioWrite(offset: number, size: AccessSize, value: number): void {
    // The PBA is read-only; the space between table and PBA ignores writes.
    if (offset >= ENTRY_SIZE * this.vectors) return;
    const i = offset >>> 2;
    const shift = 8 * (offset & 3);
    const mask = (size === 4 ? 0xffffffff : ((1 << (8 * size)) - 1) << shift) >>> 0;
    let v = ((this.s.table[i]! & ~mask) | ((value << shift) & mask)) >>> 0;
    // Message Address bits 1:0 are reserved zero (DWORD aligned); Vector Control has only Mask.
    if ((i & 3) === 0) v &= 0xfffffffc;
    if ((i & 3) === 3) v &= VECTOR_CTRL_MASK;
    this.s.table[i] = v >>> 0;
    if ((i & 3) === 3) this.sendIfPending(i >>> 2);
  }

  /** Validates `state` (untrusted) without changing anything. */
  static validate(state: MsixState, vectors: number, what: string): MsixState {
    const rec = state as unknown as Record<string, unknown>;
    if (typeof rec !== 'object' || rec === null) throw new SnapshotError(`${what}: expected an object`);
    const table = expectIntArray(rec, 'table', 0, 0xffffffff, 4 * vectors, what);
    const pending = expectIntArray(rec, 'pending', 0, 1, vectors, what);
    return { table: [...table], pending: [...pending] };
  }
}
