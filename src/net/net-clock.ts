/**
 * The time source of the network back ends. Everything a guest can observe (TCP
 * retransmission, UDP socket expiry, TIME_WAIT) is timed from here — the machine passes its
 * VirtualClock, which fits this interface, so a stopped VM's connections do not time out and
 * slirp's clock is QEMU_CLOCK_VIRTUAL as in QEMU (net/slirp.c `net_slirp_clock_get_ns`).
 *
 * Without a machine (tests, a back end opened alone) `hostNetClock()` runs the same timers on
 * the host's monotonic clock.
 */

export interface NetTimer {
  /** Arms (or re-arms) the timer for the absolute time `deadlineNs`. */
  modNs(deadlineNs: number): void;
  /** Disarms the timer. */
  del(): void;
}

export interface NetClock {
  nowNs(): number;
  createTimer(name: string, callback: (nowNs: number) => void): NetTimer;
}

/** A NetClock on the host's monotonic clock and Node timers (unref'd: they never keep the process alive). */
export function hostNetClock(): NetClock {
  const nowNs = (): number => Number(process.hrtime.bigint());
  return {
    nowNs,
    createTimer(_name, callback) {
      let handle: NodeJS.Timeout | undefined;
      return {
        modNs(deadlineNs: number) {
          if (handle) clearTimeout(handle);
          const delayMs = Math.max(0, (deadlineNs - nowNs()) / 1e6);
          handle = setTimeout(() => {
            handle = undefined;
            callback(nowNs());
          }, Math.ceil(delayMs));
          handle.unref();
        },
        del() {
          if (handle) clearTimeout(handle);
          handle = undefined;
        },
      };
    },
  };
}
