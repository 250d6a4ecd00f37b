/**
 * x87 FPU register state (SDM Vol. 1 8.1), shared by the x87 instructions, MMX (whose
 * registers alias the x87 significands) and FXSAVE/FXRSTOR.
 *
 * The eight data registers are stored raw, as the 80-bit extended format: a 64-bit significand
 * (explicit integer bit included) and a 16-bit sign+exponent. They are indexed by PHYSICAL
 * register number R0..R7; ST(i) is R((top + i) & 7). MMX register MMi is the significand of
 * Ri, and an MMX write sets Ri's sign+exponent to 0xFFFF (SDM Vol. 1 9.5.1).
 */
export class FpuState {
  /** Significands of R0..R7 as (low 32 bits, high 32 bits) pairs: R_i = mant[2i], mant[2i+1]. */
  readonly mant = new Uint32Array(16);
  /** Sign (bit 15) and biased exponent (bits 0-14) of R0..R7. */
  readonly exp = new Uint16Array(8);
  /** Control word. */
  fcw = 0x0040;
  /** Status word WITHOUT the TOP field (bits 11-13 always zero here); see `statusWord`. */
  fsw = 0;
  /** Top-of-stack pointer (status word bits 11-13). */
  top = 0;
  /** Full tag word, two bits per PHYSICAL register: 0 valid, 1 zero, 2 special, 3 empty. */
  ftw = 0x5555;
  /** Last x87 non-control instruction: opcode (11 bits), instruction pointer and data pointer. */
  fop = 0;
  fip = 0;
  fcs = 0;
  fdp = 0;
  fds = 0;

  /** Power-on state (SDM Vol. 3A Table 9-1: FCW 0040H, FSW 0, FTW 5555H, registers +0.0). */
  reset(): void {
    this.mant.fill(0);
    this.exp.fill(0);
    this.fcw = 0x0040;
    this.fsw = 0;
    this.top = 0;
    this.ftw = 0x5555;
    this.fop = 0;
    this.fip = 0;
    this.fcs = 0;
    this.fdp = 0;
    this.fds = 0;
  }

  /** The architectural status word, TOP included. */
  statusWord(): number {
    return (this.fsw & ~0x3800) | ((this.top & 7) << 11);
  }
}
