/**
 * Debian's stock kernels (built by `npm run guests`) boot in pcvm with exactly the command line
 * QEMU takes, run the guest's benchmark, reboot, and power off. These are the "done when"
 * checks, run as a user would: spawning the `pcvm` command and reading its console.
 * They run when the guests are built (`npm run guests`) and PCVM_GUEST_TESTS=1 is set: a boot
 * with the interpreter takes minutes, so the default `npm test` leaves them out.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { BENCH_LINE, benchFigures, consoleLogFile, guestArgs, guestFiles, PCVM, runConsole, selectedGuestArches } from '../../scripts/guest-run.mjs';

// On an idle host the i386 guest boots in about 4 minutes and the amd64 guest in about 10; a
// host shared with other work has taken three times as long.
const BOOT_MS = 2_400_000;
const BENCH_MS = 3_600_000;

/**
 * Kernel messages about timers, the APIC, ACPI or PCI that QEMU's boot of the same guest does
 * not print (compared line by line with QEMU 7.2's dmesg). Most are the guest noticing that
 * time jumped — TSC calibration against the PIT, the clocksource watchdog, a timer interrupt
 * or a PCI quirk that "took" tens of ms, HPET-emulated RTC interrupts lost. A host busy with
 * other work can still cause the timing ones: run this on an idle host.
 */
const KERNEL_COMPLAINT = new RegExp([
  'calibration failed', 'Unable to calibrate', 'Marking TSC unstable', 'clocksource.*(unstable|read-back delay|skew)',
  'hrtimer: interrupt took', 'PM-Timer running at invalid rate', 'Lost \\d+ RTC interrupts', 'took \\d+ usecs',
  'APIC.*(error|bug|disabl|not? work)', '(timer|IRQ0).*(not|doesn.t) work', 'ACPI (Error|Warning|BIOS Error|Exception)',
  'ACPI:.*(fail|error)', 'pci .*(fail|error|conflict|can.t)', 'BUG:|WARNING:|blocked for more than',
].join('|'), 'i');

/** PCVM_GUEST_ARCH=i386 or amd64 runs one of the two. */
const ARCHES: readonly ('i386' | 'amd64')[] = selectedGuestArches();

for (const arch of ARCHES) {
  const guest = process.env.PCVM_GUEST_TESTS === '1' ? guestFiles(arch) : null;
  describe.skipIf(!guest)(`Debian ${arch} guest`, () => {
    it('boots to GUEST-READY, runs guest-bench to BENCH-DONE with figures that match host time, and exits 0 on poweroff -f', async () => {
      const vm = runConsole(PCVM, [...guestArgs(guest, 'console=ttyS0 autorun=guest-bench;poweroff+-f', ['-d', 'unimp'])],
        { logFile: consoleLogFile(`bench-${arch}`) });
      try {
        await vm.waitFor(/^GUEST-READY (i686|x86_64) /, BOOT_MS);
        await vm.waitFor(/^BENCH-DONE/, BENCH_MS);
        const status = await vm.exit;
        expect(status).toEqual({ status: 0, signal: null });
        expect(vm.stderr).not.toMatch(/unimplemented/);
        // Each figure, measured by the guest's clock, agrees with the host time between the
        // console lines that bracket it (10%, plus the guest clock's 10 ms resolution and the
        // time the line takes to reach us).
        const figures = benchFigures(vm.lines);
        expect(Object.keys(figures)).toEqual(['md5-32M', 'gzip-8M', 'sh-loop-20k', 'fork-200']);
        const benchLines = vm.lines.filter((l: { text: string }) => BENCH_LINE.test(l.text.trim()));
        for (let i = 1; i < benchLines.length; i++) {
          const hostMs = (benchLines[i].t - benchLines[i - 1].t) * 1000;
          const guestMs = figures[BENCH_LINE.exec(benchLines[i].text.trim())![1]!];
          expect(Math.abs(guestMs - hostMs), `${benchLines[i].text.trim()} vs host ${hostMs.toFixed(0)} ms`).toBeLessThan(hostMs * 0.1 + 60);
        }
      } finally {
        vm.kill();
      }
    }, BOOT_MS + BENCH_MS);

    it('dmesg has no timer, APIC, ACPI or PCI complaint; reboot -f resets and boots again, and a clean poweroff ends pcvm with status 0', async () => {
      const vm = runConsole(PCVM, [...guestArgs(guest, 'console=ttyS0')], { logFile: consoleLogFile(`reboot-${arch}`) });
      try {
        const first = await vm.waitFor(/^GUEST-READY /, BOOT_MS);
        vm.type('dmesg; echo DMESG""-END\n');
        const end = await vm.waitFor(/^DMESG-END/, BOOT_MS, first.index + 1);
        const complaints = vm.lines.slice(first.index + 1, end.index).map((l: { text: string }) => l.text).filter((t: string) => KERNEL_COMPLAINT.test(t));
        expect(complaints).toEqual([]);
        // The guest's wall clock (the RTC read at boot plus virtual time since) agrees with
        // the host's, as `date` shows it at the shell: within 2 s (the RTC's 1 s resolution
        // and the line's way to us). A boot leaves the clock behind by the host work it left
        // out (at most MAX_LAG_NS, 10 s), which it catches up while idle: here, in the sleep.
        vm.type('sleep 12; echo DATE-$(date +%s)\n');
        const date = await vm.waitFor(/^DATE-(\d+)$/, BOOT_MS, end.index + 1);
        expect(Math.abs(Number(date.match[1]) - Date.now() / 1000)).toBeLessThan(2);
        vm.type('reboot -f\n');
        await vm.waitFor(/^GUEST-READY /, BOOT_MS, first.index + 1);
        vm.type('poweroff\n');
        const status = await vm.exit;
        expect(status).toEqual({ status: 0, signal: null });
      } finally {
        vm.kill();
      }
    }, BOOT_MS * 3);
  });
}
