/**
 * Nested virtualization with a real hypervisor: each Debian guest boots with `-cpu pcvm,+vmx`,
 * its own kvm_intel module loads (the initramfs inserts it at boot), /dev/kvm appears, and
 * `kvm-hello` (scripts/guest-kvm-hello.c) runs a real-mode nested guest through the guest
 * kernel's KVM: OUTs, a loop, an MMIO store outside the nested guest's memory and HLT, each
 * coming back to kvm-hello as the right KVM exit. The guest's kernel log must stay free of
 * warnings from KVM (an MSR it reads that we lack shows up as "unchecked MSR access error").
 *
 * Runs with PCVM_GUEST_TESTS=1 when the guests are built (`npm run guests`, with gcc for
 * kvm-hello).
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module shared with scripts/bench.mjs
import { consoleLogFile, guestArgs, guestFiles, PCVM, runConsole } from '../../scripts/guest-run.mjs';

// A boot takes 4-10 minutes on an idle host, far longer on a loaded one.
const BOOT_MS = 2_400_000;
const KVM_HELLO_MS = 600_000;

for (const arch of ['i386', 'amd64'] as const) {
  const guest = process.env.PCVM_GUEST_TESTS === '1' ? guestFiles(arch) : null;
  describe.skipIf(!guest)(`Debian ${arch} guest with -cpu pcvm,+vmx`, () => {
    it('kvm_intel loads, /dev/kvm appears, kvm-hello prints KVM-HELLO OK, and the kernel logs no KVM warning', async () => {
      const vm = runConsole(PCVM, guestArgs(guest, 'console=ttyS0', ['-cpu', 'pcvm,+vmx', '-d', 'unimp']),
        { logFile: consoleLogFile(`kvm-hello-${arch}`) });
      try {
        const ready = await vm.waitFor(/^GUEST-READY /, BOOT_MS);
        vm.type('ls -l /dev/kvm; cd /sys/module/kvm_intel/parameters; echo EPT=$(cat ept) UG=$(cat unrestricted_guest); cd /\n');
        vm.type('time kvm-hello; echo KVM-HELLO-STATUS $?\n');
        const status = await vm.waitFor(/^KVM-HELLO-STATUS /, KVM_HELLO_MS, ready.index + 1);
        const after = vm.lines.slice(ready.index + 1).map((l: { text: string }) => l.text);
        // (The console echoes the typed commands too: look for the output lines only.)
        expect(after.find((t: string) => /^c.* \/dev\/kvm$/.test(t))).toMatch(/^crw.* 10,\s+232 .*\/dev\/kvm$/);
        // KVM uses our EPT and unrestricted guest (the nested guest runs in real mode).
        expect(after).toContain('EPT=Y UG=Y');
        expect(after.find((t: string) => t.startsWith('KVM-HELLO '))).toMatch(/^KVM-HELLO OK nested-guest exits=\d+$/);
        expect(status.text).toBe('KVM-HELLO-STATUS 0');
        vm.type('echo WARNINGS=$(dmesg | grep -i -c -e "unchecked MSR" -e "WARNING:" -e "kvm.*error"); poweroff -f\n');
        expect(await vm.exit).toEqual({ status: 0, signal: null });
        const log = vm.lines.map((l: { text: string }) => l.text).join('\n');
        expect(log).not.toMatch(/unchecked MSR access error|no hardware support for 'kvm_intel'|VMX not enabled/);
        expect(log).toMatch(/^WARNINGS=0$/m);
      } finally {
        vm.kill();
      }
    }, BOOT_MS + KVM_HELLO_MS * 2);
  });
}
