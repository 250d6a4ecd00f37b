/**
 * Conversions between virtual nanoseconds and ticks of a fixed-frequency input clock (the
 * 8254's 1.193182 MHz, the RTC's 32.768 kHz, the ACPI PM timer's 3.579545 MHz), exact for every safe-integer time: tick n is the n-th clock edge
 * after virtual time 0, and it happens at the first whole ns where floor(ns · hz / 1e9) = n.
 */

const NS_PER_S = 1_000_000_000;

/** Clock edges of an `hz` clock that have happened by virtual time `nowNs`. */
export function ticksAt(nowNs: number, hz: number): number {
  const ns = Math.floor(nowNs);
  let s = Math.floor(ns / NS_PER_S);
  let rem = ns - s * NS_PER_S;
  // ns / 1e9 is rounded; correct the quotient so that 0 <= rem < 1e9 exactly.
  if (rem < 0) {
    s--;
    rem += NS_PER_S;
  } else if (rem >= NS_PER_S) {
    s++;
    rem -= NS_PER_S;
  }
  // rem · hz < 2^53 for hz below 9 MHz, so the product is exact; the quotient's true value is
  // at least 1e-9 away from the next integer, more than its rounding error (< 3e-10).
  return s * hz + Math.floor((rem * hz) / NS_PER_S);
}

/** The first whole virtual ns at which edge `ticks` has happened (a timer deadline). */
export function nsAtTick(ticks: number, hz: number): number {
  let s = Math.floor(ticks / hz);
  let rem = ticks - s * hz;
  if (rem < 0) {
    s--;
    rem += hz;
  } else if (rem >= hz) {
    s++;
    rem -= hz;
  }
  // rem · 1e9 < 2^53 is exact; a non-integer quotient is at least 1/hz above the integer
  // below it, far more than its rounding error, so ceil() is exact.
  return s * NS_PER_S + Math.ceil((rem * NS_PER_S) / hz);
}
