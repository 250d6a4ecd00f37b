/**
 * System Control Port B at 0x61 (PC/AT; Intel PIIX4 datasheet "NMI Status and Control
 * Register", NMI_SC): the speaker and PIT counter 2 controls, and status bits firmware and
 * OS timing loops read.
 *
 *   bit 0  TIM2GATE  R/W  GATE of PIT counter 2
 *   bit 1  SPKRDAT   R/W  speaker data enable (ANDed with OUT2 on the speaker; no sound here)
 *   bit 2  PCIERR_EN R/W  kept (no SERR# source)
 *   bit 3  IOCHK_EN  R/W  kept (no IOCHK# source)
 *   bit 4  REFTOG    RO   toggles on every DRAM refresh request, every 15.085 µs of virtual
 *                         time (PIT counter 1's classic rate, 18 ticks; as QEMU derives it
 *                         from its virtual clock)
 *   bit 5  TIM2OUT   RO   OUT of PIT counter 2
 *   bit 6  IOCHK_STS RO   0 (no channel check)
 *   bit 7  SERR_STS  RO   0 (no system error)
 *
 * Linux calibrates the TSC by gating counter 2 through bit 0 and polling bit 5.
 */
import type { AccessSize, PortHandler } from '../../src/memory/io-bus.js';
import type { VirtualClock } from '../../src/machine/clock.js';
import type { Device } from '../../src/machine/device.js';
import { expectInt, expectRecord, expectVersion } from '../../src/snapshot/validate.js';

export const P61_TIM2GATE = 0x01;
export const P61_SPKRDAT = 0x02;
const P61_ENABLES = 0x0c;
export const P61_REFTOG = 0x10;
export const P61_TIM2OUT = 0x20;

/** DRAM refresh request period in ns (18 PIT ticks = 15.0855 µs; QEMU uses 15085). */
export const REFRESH_PERIOD_NS = 15_085;

/** What port 0x61 needs of the PIT. */
export interface Counter2Control {
  setGate(index: number, level: boolean): void;
  gate(index: number): boolean;
  out(index: number): boolean;
}

export interface Port61State {
  /** SPKRDAT and the two enable bits as written (the gate lives in the PIT's state). */
  value: number;
}

export class Port61 implements Device, PortHandler {
  readonly stateVersion = 1;
  private s: Port61State = { value: 0 };

  constructor(
    readonly id: string,
    private readonly deps: { pit: Counter2Control; clock: VirtualClock },
  ) {}

  ioRead(_offset: number, _size: AccessSize): number {
    const refresh = Math.floor(this.deps.clock.nowNs() / REFRESH_PERIOD_NS) & 1;
    return (
      (this.deps.pit.gate(2) ? P61_TIM2GATE : 0) |
      this.s.value |
      (refresh ? P61_REFTOG : 0) |
      (this.deps.pit.out(2) ? P61_TIM2OUT : 0)
    );
  }

  ioWrite(_offset: number, _size: AccessSize, value: number): void {
    this.s.value = value & (P61_SPKRDAT | P61_ENABLES);
    this.deps.pit.setGate(2, (value & P61_TIM2GATE) !== 0);
  }

  /** The speaker sounds when SPKRDAT is set and OUT2 toggles (for a future audio back end). */
  get speakerEnabled(): boolean {
    return (this.s.value & P61_SPKRDAT) !== 0;
  }

  reset(): void {
    this.s = { value: 0 };
  }
  saveState(): Port61State {
    return { ...this.s };
  }
  loadState(state: unknown, version: number): void {
    expectVersion(version, this.stateVersion, this.id);
    const rec = expectRecord(state, this.id);
    this.s = { value: expectInt(rec, 'value', 0, P61_SPKRDAT | P61_ENABLES, this.id) };
  }
}
