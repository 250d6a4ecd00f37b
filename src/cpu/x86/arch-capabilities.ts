/**
 * IA32_ARCH_CAPABILITIES (MSR 10AH, read-only; SDM Vol. 4 Table 2-2), enumerated by
 * CPUID.(EAX=7,ECX=0):EDX[29]. Its *_NO bits tell software that the processor is not affected
 * by a speculative-execution or microarchitectural-buffer problem, so that it deploys no
 * mitigation for it (Intel, "CPUID Enumeration and Architectural MSRs" in the software
 * security guidance).
 *
 * An interpreter does not speculate: it has no out-of-order window, no store buffer, fill
 * buffers, load ports or L1D, no branch predictor or return-stack buffer, and it never raises
 * a machine check on a page-size change. Every "not affected" bit below is therefore a plain
 * fact about pcvm. The bits that describe a mitigation *mechanism* are left clear, because
 * the mechanism is not implemented: IBRS_ALL (enhanced IBRS needs IA32_SPEC_CTRL, which is not
 * advertised), RSBA/RRSBA (statements of a predictor behaviour pcvm does not have),
 * TSX_CTRL, FB_CLEAR, GDS_CTRL, RFDS_CLEAR (controls of features and buffers that do not
 * exist), SKIP_L1DFL_VMENTRY (a VMM hint tied to IA32_FLUSH_CMD).
 *
 * Linux (arch/x86/kernel/cpu/common.c cpu_set_bug_bits) reads this MSR whenever the CPUID
 * bit is set; with these bits it sets no Meltdown, L1TF, SSB, MDS, TAA, MMIO stale data,
 * ITLB multihit, BHI, GDS, RFDS or ITS bug — and without them, because a HYPERVISOR-bit guest
 * must assume the worst, it reported "Vulnerable" for SSB, MDS and ITS and enabled PTI.
 * Spectre v1/v2 stay reported (no *_NO bit exists for them), as on every Intel part.
 */

/** IA32_ARCH_CAPABILITIES bits (low dword). */
export const enum ArchCap {
  /** Not susceptible to rogue data cache load (Meltdown); implies no L1TF. */
  RDCL_NO = 1 << 0,
  /** Not susceptible to speculative store bypass. */
  SSB_NO = 1 << 4,
  /** Not susceptible to microarchitectural data sampling. */
  MDS_NO = 1 << 5,
  /** No machine check on an instruction-fetch page-size change (ITLB multihit). */
  IF_PSCHANGE_MC_NO = 1 << 6,
  /** Not susceptible to TSX asynchronous abort. */
  TAA_NO = 1 << 8,
  /** Not susceptible to shared-buffers data read (MMIO stale data). */
  SBDR_SSDP_NO = 1 << 13,
  /** Not susceptible to fill-buffer stale data propagation. */
  FBSDP_NO = 1 << 14,
  /** Not susceptible to primary stale data propagation. */
  PSDP_NO = 1 << 15,
  /** Not susceptible to branch history injection. */
  BHI_NO = 1 << 20,
  /** Not susceptible to post-barrier RSB predictions. */
  PBRSB_NO = 1 << 24,
  /** Not susceptible to gather data sampling. */
  GDS_NO = 1 << 26,
  /** Not susceptible to register file data sampling. */
  RFDS_NO = 1 << 27,
}
/** IA32_ARCH_CAPABILITIES bits of the high dword: bit 62, ITS_NO (indirect target selection). */
export const ARCH_CAP_HI_ITS_NO = 1 << 30;

export const MSR_IA32_ARCH_CAPABILITIES = 0x10a;

/** The value every pcvm model that enumerates the MSR returns: [low, high]. */
export const NOT_AFFECTED_ARCH_CAPABILITIES: readonly [number, number] = [
  (ArchCap.RDCL_NO | ArchCap.SSB_NO | ArchCap.MDS_NO | ArchCap.IF_PSCHANGE_MC_NO | ArchCap.TAA_NO |
    ArchCap.SBDR_SSDP_NO | ArchCap.FBSDP_NO | ArchCap.PSDP_NO | ArchCap.BHI_NO | ArchCap.PBRSB_NO |
    ArchCap.GDS_NO | ArchCap.RFDS_NO) >>> 0,
  ARCH_CAP_HI_ITS_NO,
];

/** CPUID.(EAX=7,ECX=0):EDX[29]: IA32_ARCH_CAPABILITIES is supported. */
export const LEAF7_EDX_ARCH_CAPABILITIES = 1 << 29;
