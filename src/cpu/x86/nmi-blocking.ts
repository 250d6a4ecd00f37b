/**
 * The end of NMI blocking. Delivering an NMI blocks further NMIs "until the next execution
 * of the IRET instruction" (SDM Vol. 3A 6.7.1, Handling Multiple NMIs), and "execution of the
 * IRET instruction unblocks NMIs even if the instruction causes a fault" — e.g. IRET in
 * virtual-8086 mode with IOPL < 3 raises #GP with NMIs already unblocked. So every IRET form
 * (real mode, virtual-8086, protected mode, IRETD, IRETQ) calls this before any check that
 * could fault. An NMI that arrived meanwhile stays pending and is taken at the next
 * instruction boundary (cpu.ts), after the IRET completes.
 *
 * In VMX non-root operation with the "NMI exiting" control set, IRET does not affect the
 * blocking of NMIs (SDM Vol. 3C 26.3, "Changes to Instruction Behavior in VMX Non-Root
 * Operation": IRET) — unless "virtual NMIs" is also set: then s.nmiBlocked holds virtual-NMI
 * blocking, which IRET removes the same way, faulting or not. When IRET removes blocking in
 * non-root operation, a fault or EPT violation it then causes reports "NMI unblocking due to
 * IRET" (vmx-unit.ts).
 */
import { Pin } from './vmx/vmx-capabilities.js';
import { F } from './vmx/vmcs-fields.js';
import type { X86Cpu } from './cpu.js';

/** IRET's effect on NMI blocking; call first thing in every IRET path. */
export function iretUnblocksNmi(cpu: X86Cpu): void {
  if (cpu.vmxNonRoot) {
    const pin = cpu.vmx!.vmcs!.get(F.PIN_CONTROLS);
    if ((pin & (Pin.NMI_EXITING | Pin.VIRTUAL_NMIS)) === Pin.NMI_EXITING) return;
    cpu.vmx!.iretUnblockedNmi = cpu.s.nmiBlocked;
  }
  cpu.s.nmiBlocked = false;
}
