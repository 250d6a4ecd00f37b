/**
 * What the CPU sees of its local APIC: the two MSRs that live in the APIC (IA32_APIC_BASE,
 * IA32_TSC_DEADLINE), the task priority for CR8, and the facts CPUID reports. The board hands
 * an implementation to the CPU in CpuBus (`apic`), next to the InterruptSource (INTR/INTA) the
 * same APIC provides; the CPU never imports the device (DESIGN.md).
 *
 * A CPU without an `apic` is a processor without an on-chip APIC: CPUID.1:EDX.APIC and
 * CPUID.1:ECX.TSC_DEADLINE read clear and both MSRs raise #GP.
 */

export interface CpuApic {
  /**
   * IA32_APIC_BASE (SDM Vol. 3A 10.4.4, Figure 10-5), low 32 bits; the high half is zero since
   * MAXPHYADDR is 32. Bit 8 BSP, bit 11 global enable, bits 31:12 the page of the registers.
   */
  readApicBase(): number;
  /**
   * WRMSR IA32_APIC_BASE with a value whose reserved bits the CPU has already checked (#GP).
   * Clearing bit 11 disables the APIC globally: the processor then behaves as one without an
   * APIC and the 8259's INTR reaches it directly.
   */
  writeApicBase(value: number): void;
  /** Bit 11 of IA32_APIC_BASE: CPUID.1:EDX.APIC follows it (SDM 10.4.3). */
  readonly globallyEnabled: boolean;
  /** The initial APIC ID, reported in CPUID.1:EBX[31:24]. */
  readonly initialApicId: number;
  /** IA32_TSC_DEADLINE as [low, high]; zero unless the timer is in TSC-deadline mode. */
  readTscDeadline(): [number, number];
  /**
   * WRMSR IA32_TSC_DEADLINE. `deadlineNs` is the virtual time at which the TSC reaches the
   * written value (the CPU owns the TSC's rate and offset); a time in the past fires at once.
   */
  writeTscDeadline(lo: number, hi: number, deadlineNs: number): void;
  /** CR8 reads TPR[7:4] (SDM 10.8.6.1). */
  getTpr(): number;
  /** CR8 writes set TPR[7:4] and clear TPR[3:0]. */
  setTpr(value: number): void;
}
