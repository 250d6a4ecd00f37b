/**
 * VMCS field encodings (Intel SDM Vol. 3D Appendix B, "Field Encoding in VMCS") and the
 * processor's cached copy of one VMCS.
 *
 * An encoding is: bit 0 access type (1 = the high 32 bits of a 64-bit field), bits 9:1 index,
 * bits 11:10 type (0 control, 1 VM-exit information, 2 guest state, 3 host state), bits 14:13
 * width (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width), bits 12 and 31:15 reserved (SDM 25.11.2).
 *
 * Only the fields of features this implementation has are supported; VMREAD/VMWRITE of any other
 * encoding fail with VM-instruction error 12. IA32_VMX_VMCS_ENUM reports the highest index used
 * here (VMCS_MAX_INDEX).
 *
 * Every field is kept as two 32-bit halves. The VMCS region in guest memory holds, after the
 * revision identifier (offset 0) and the VMX-abort indicator (offset 4), an implementation-
 * specific format (SDM 25.2): ours is the launch state at offset 8 and each field's 8 bytes at
 * 16 + 8 × (its position in VMCS_FIELDS).
 */

export const enum F {
  // 16-bit control
  VPID = 0x0000,
  // 16-bit guest state
  GUEST_ES_SEL = 0x0800, GUEST_CS_SEL = 0x0802, GUEST_SS_SEL = 0x0804, GUEST_DS_SEL = 0x0806,
  GUEST_FS_SEL = 0x0808, GUEST_GS_SEL = 0x080a, GUEST_LDTR_SEL = 0x080c, GUEST_TR_SEL = 0x080e,
  // 16-bit host state
  HOST_ES_SEL = 0x0c00, HOST_CS_SEL = 0x0c02, HOST_SS_SEL = 0x0c04, HOST_DS_SEL = 0x0c06,
  HOST_FS_SEL = 0x0c08, HOST_GS_SEL = 0x0c0a, HOST_TR_SEL = 0x0c0c,
  // 64-bit control
  IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
  EXIT_MSR_STORE_ADDR = 0x2006, EXIT_MSR_LOAD_ADDR = 0x2008, ENTRY_MSR_LOAD_ADDR = 0x200a,
  EXECUTIVE_VMCS_PTR = 0x200c, TSC_OFFSET = 0x2010, EPT_POINTER = 0x201a,
  // 64-bit read-only
  GUEST_PHYSICAL_ADDRESS = 0x2400,
  // 64-bit guest state
  VMCS_LINK_POINTER = 0x2800, GUEST_DEBUGCTL = 0x2802, GUEST_PAT = 0x2804, GUEST_EFER = 0x2806,
  GUEST_PDPTE0 = 0x280a, GUEST_PDPTE1 = 0x280c, GUEST_PDPTE2 = 0x280e, GUEST_PDPTE3 = 0x2810,
  // 64-bit host state
  HOST_PAT = 0x2c00, HOST_EFER = 0x2c02,
  // 32-bit control
  PIN_CONTROLS = 0x4000, PROC_CONTROLS = 0x4002, EXCEPTION_BITMAP = 0x4004,
  PF_ERROR_MASK = 0x4006, PF_ERROR_MATCH = 0x4008, CR3_TARGET_COUNT = 0x400a,
  EXIT_CONTROLS = 0x400c, EXIT_MSR_STORE_COUNT = 0x400e, EXIT_MSR_LOAD_COUNT = 0x4010,
  ENTRY_CONTROLS = 0x4012, ENTRY_MSR_LOAD_COUNT = 0x4014, ENTRY_INTR_INFO = 0x4016,
  ENTRY_EXCEPTION_ERROR = 0x4018, ENTRY_INSTRUCTION_LENGTH = 0x401a, TPR_THRESHOLD = 0x401c,
  PROC_CONTROLS2 = 0x401e,
  // 32-bit read-only
  VM_INSTRUCTION_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR_INFO = 0x4404,
  EXIT_INTR_ERROR = 0x4406, IDT_VECTORING_INFO = 0x4408, IDT_VECTORING_ERROR = 0x440a,
  EXIT_INSTRUCTION_LENGTH = 0x440c, EXIT_INSTRUCTION_INFO = 0x440e,
  // 32-bit guest state
  GUEST_ES_LIMIT = 0x4800, GUEST_CS_LIMIT = 0x4802, GUEST_SS_LIMIT = 0x4804, GUEST_DS_LIMIT = 0x4806,
  GUEST_FS_LIMIT = 0x4808, GUEST_GS_LIMIT = 0x480a, GUEST_LDTR_LIMIT = 0x480c, GUEST_TR_LIMIT = 0x480e,
  GUEST_GDTR_LIMIT = 0x4810, GUEST_IDTR_LIMIT = 0x4812,
  GUEST_ES_AR = 0x4814, GUEST_CS_AR = 0x4816, GUEST_SS_AR = 0x4818, GUEST_DS_AR = 0x481a,
  GUEST_FS_AR = 0x481c, GUEST_GS_AR = 0x481e, GUEST_LDTR_AR = 0x4820, GUEST_TR_AR = 0x4822,
  GUEST_INTERRUPTIBILITY = 0x4824, GUEST_ACTIVITY_STATE = 0x4826, GUEST_SMBASE = 0x4828,
  GUEST_SYSENTER_CS = 0x482a, PREEMPTION_TIMER = 0x482e,
  // 32-bit host state
  HOST_SYSENTER_CS = 0x4c00,
  // natural-width control
  CR0_MASK = 0x6000, CR4_MASK = 0x6002, CR0_SHADOW = 0x6004, CR4_SHADOW = 0x6006,
  CR3_TARGET0 = 0x6008, CR3_TARGET1 = 0x600a, CR3_TARGET2 = 0x600c, CR3_TARGET3 = 0x600e,
  // natural-width read-only
  EXIT_QUALIFICATION = 0x6400, IO_RCX = 0x6402, IO_RSI = 0x6404, IO_RDI = 0x6406, IO_RIP = 0x6408,
  GUEST_LINEAR_ADDRESS = 0x640a,
  // natural-width guest state
  GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804,
  GUEST_ES_BASE = 0x6806, GUEST_CS_BASE = 0x6808, GUEST_SS_BASE = 0x680a, GUEST_DS_BASE = 0x680c,
  GUEST_FS_BASE = 0x680e, GUEST_GS_BASE = 0x6810, GUEST_LDTR_BASE = 0x6812, GUEST_TR_BASE = 0x6814,
  GUEST_GDTR_BASE = 0x6816, GUEST_IDTR_BASE = 0x6818, GUEST_DR7 = 0x681a, GUEST_RSP = 0x681c,
  GUEST_RIP = 0x681e, GUEST_RFLAGS = 0x6820, GUEST_PENDING_DBG = 0x6822,
  GUEST_SYSENTER_ESP = 0x6824, GUEST_SYSENTER_EIP = 0x6826,
  // natural-width host state
  HOST_CR0 = 0x6c00, HOST_CR3 = 0x6c02, HOST_CR4 = 0x6c04, HOST_FS_BASE = 0x6c06,
  HOST_GS_BASE = 0x6c08, HOST_TR_BASE = 0x6c0a, HOST_GDTR_BASE = 0x6c0c, HOST_IDTR_BASE = 0x6c0e,
  HOST_SYSENTER_ESP = 0x6c10, HOST_SYSENTER_EIP = 0x6c12, HOST_RSP = 0x6c14, HOST_RIP = 0x6c16,
}

/** Every supported field (64-bit fields by their "full" encoding), in storage order. */
export const VMCS_FIELDS: readonly number[] = [
  F.VPID,
  F.GUEST_ES_SEL, F.GUEST_CS_SEL, F.GUEST_SS_SEL, F.GUEST_DS_SEL, F.GUEST_FS_SEL, F.GUEST_GS_SEL,
  F.GUEST_LDTR_SEL, F.GUEST_TR_SEL,
  F.HOST_ES_SEL, F.HOST_CS_SEL, F.HOST_SS_SEL, F.HOST_DS_SEL, F.HOST_FS_SEL, F.HOST_GS_SEL, F.HOST_TR_SEL,
  F.IO_BITMAP_A, F.IO_BITMAP_B, F.MSR_BITMAP, F.EXIT_MSR_STORE_ADDR, F.EXIT_MSR_LOAD_ADDR,
  F.ENTRY_MSR_LOAD_ADDR, F.EXECUTIVE_VMCS_PTR, F.TSC_OFFSET, F.EPT_POINTER,
  F.GUEST_PHYSICAL_ADDRESS,
  F.VMCS_LINK_POINTER, F.GUEST_DEBUGCTL, F.GUEST_PAT, F.GUEST_EFER,
  F.GUEST_PDPTE0, F.GUEST_PDPTE1, F.GUEST_PDPTE2, F.GUEST_PDPTE3,
  F.HOST_PAT, F.HOST_EFER,
  F.PIN_CONTROLS, F.PROC_CONTROLS, F.EXCEPTION_BITMAP, F.PF_ERROR_MASK, F.PF_ERROR_MATCH,
  F.CR3_TARGET_COUNT, F.EXIT_CONTROLS, F.EXIT_MSR_STORE_COUNT, F.EXIT_MSR_LOAD_COUNT,
  F.ENTRY_CONTROLS, F.ENTRY_MSR_LOAD_COUNT, F.ENTRY_INTR_INFO, F.ENTRY_EXCEPTION_ERROR,
  F.ENTRY_INSTRUCTION_LENGTH, F.TPR_THRESHOLD, F.PROC_CONTROLS2,
  F.VM_INSTRUCTION_ERROR, F.EXIT_REASON, F.EXIT_INTR_INFO, F.EXIT_INTR_ERROR, F.IDT_VECTORING_INFO,
  F.IDT_VECTORING_ERROR, F.EXIT_INSTRUCTION_LENGTH, F.EXIT_INSTRUCTION_INFO,
  F.GUEST_ES_LIMIT, F.GUEST_CS_LIMIT, F.GUEST_SS_LIMIT, F.GUEST_DS_LIMIT, F.GUEST_FS_LIMIT,
  F.GUEST_GS_LIMIT, F.GUEST_LDTR_LIMIT, F.GUEST_TR_LIMIT, F.GUEST_GDTR_LIMIT, F.GUEST_IDTR_LIMIT,
  F.GUEST_ES_AR, F.GUEST_CS_AR, F.GUEST_SS_AR, F.GUEST_DS_AR, F.GUEST_FS_AR, F.GUEST_GS_AR,
  F.GUEST_LDTR_AR, F.GUEST_TR_AR, F.GUEST_INTERRUPTIBILITY, F.GUEST_ACTIVITY_STATE, F.GUEST_SMBASE,
  F.GUEST_SYSENTER_CS, F.PREEMPTION_TIMER,
  F.HOST_SYSENTER_CS,
  F.CR0_MASK, F.CR4_MASK, F.CR0_SHADOW, F.CR4_SHADOW, F.CR3_TARGET0, F.CR3_TARGET1, F.CR3_TARGET2,
  F.CR3_TARGET3,
  F.EXIT_QUALIFICATION, F.IO_RCX, F.IO_RSI, F.IO_RDI, F.IO_RIP, F.GUEST_LINEAR_ADDRESS,
  F.GUEST_CR0, F.GUEST_CR3, F.GUEST_CR4, F.GUEST_ES_BASE, F.GUEST_CS_BASE, F.GUEST_SS_BASE,
  F.GUEST_DS_BASE, F.GUEST_FS_BASE, F.GUEST_GS_BASE, F.GUEST_LDTR_BASE, F.GUEST_TR_BASE,
  F.GUEST_GDTR_BASE, F.GUEST_IDTR_BASE, F.GUEST_DR7, F.GUEST_RSP, F.GUEST_RIP, F.GUEST_RFLAGS,
  F.GUEST_PENDING_DBG, F.GUEST_SYSENTER_ESP, F.GUEST_SYSENTER_EIP,
  F.HOST_CR0, F.HOST_CR3, F.HOST_CR4, F.HOST_FS_BASE, F.HOST_GS_BASE, F.HOST_TR_BASE,
  F.HOST_GDTR_BASE, F.HOST_IDTR_BASE, F.HOST_SYSENTER_ESP, F.HOST_SYSENTER_EIP, F.HOST_RSP, F.HOST_RIP,
];

/** The highest index (bits 9:1) of any supported encoding: IA32_VMX_VMCS_ENUM[9:1]. */
export const VMCS_MAX_INDEX = Math.max(...VMCS_FIELDS.map((e) => (e >> 1) & 0x1ff));

/** Storage slot of each supported full encoding. */
const SLOT = new Map<number, number>(VMCS_FIELDS.map((e, i) => [e, i]));

export const enum Width { W16 = 0, W64 = 1, W32 = 2, Natural = 3 }

export function fieldWidth(enc: number): Width {
  return (enc >> 13) & 3;
}

/** The type bits 11:10: 1 is VM-exit information (read-only to VMWRITE). */
export function isReadOnly(enc: number): boolean {
  return ((enc >> 10) & 3) === 1;
}

/**
 * The storage slot of `enc` and whether it names the high half of a 64-bit field, or -1 when
 * the encoding is not a supported component (reserved bits set, unknown field, a "high"
 * access to a field that is not 64 bits wide).
 */
export function lookupField(enc: number): number {
  if (!Number.isInteger(enc) || enc < 0 || enc > 0x7fff || (enc & 0x1000)) return -1;
  const high = (enc & 1) !== 0;
  if (high && fieldWidth(enc) !== Width.W64) return -1;
  const slot = SLOT.get(enc & ~1);
  return slot === undefined ? -1 : slot;
}

/** Byte offset of the field area in a VMCS region (after revision, abort, launch state). */
export const VMCS_DATA_OFFSET = 16;
/** Byte offset of the launch state in our VMCS region format. */
export const VMCS_LAUNCH_OFFSET = 8;
/** Value of the launch-state word meaning "launched" (anything else reads as clear). */
export const LAUNCH_STATE_LAUNCHED = 0x4c41554e; // 'LAUN'

/** One VMCS as the processor caches it: field halves and the launch state. */
export class Vmcs {
  readonly lo = new Uint32Array(VMCS_FIELDS.length);
  readonly hi = new Uint32Array(VMCS_FIELDS.length);
  launched = false;

  /** The low 32 bits of field `enc` (a supported full encoding). */
  get(enc: number): number {
    return this.lo[SLOT.get(enc)!]!;
  }

  /** The high 32 bits of 64-bit or natural-width field `enc`. */
  getHi(enc: number): number {
    return this.hi[SLOT.get(enc)!]!;
  }

  /** The field as a signed number exact for canonical addresses (natural-width / 64-bit). */
  getNum(enc: number): number {
    const i = SLOT.get(enc)!;
    return (this.hi[i]! | 0) * 4294967296 + this.lo[i]!;
  }

  /** The field as an unsigned 64-bit number (exact below 2^53). */
  getU(enc: number): number {
    const i = SLOT.get(enc)!;
    return this.hi[i]! * 4294967296 + this.lo[i]!;
  }

  set(enc: number, lo: number, hi = 0): void {
    const i = SLOT.get(enc)!;
    this.lo[i] = lo >>> 0;
    this.hi[i] = hi >>> 0;
  }

  /** Sets a natural-width or 64-bit field from a signed number (a canonical address). */
  setNum(enc: number, v: number): void {
    this.set(enc, v >>> 0, Math.floor(v / 4294967296));
  }
}
