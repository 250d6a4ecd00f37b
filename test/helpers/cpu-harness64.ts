/**
 * A bare X86Cpu in IA-32e mode for 64-bit instruction tests: `LongModeHarness.flat64()`.
 *
 * The CPU state is written directly (as CpuHarness does for flat32): 64-bit code segment
 * 0x08 at CPL 0, flat data 0x10, a 64-bit TSS, an IDT of 16-byte interrupt gates whose
 * handlers record what the CPU pushed, and 4-level page tables that identity-map the first
 * 2 MiB and alias them at the top of the canonical upper half (0xFFFFFFFF_80000000, as Linux
 * maps its kernel) and at 0xFFFF8000_00000000.
 *
 * Handler for vector V (64-bit code): pops the error code (if V pushes one) into a cell,
 * stores V, then pops RIP, CS, RFLAGS, RSP and SS into cells and HLTs.
 *
 * GDT (STAR-compatible layout, as Linux uses): 0x08 kernel code64, 0x10 kernel data,
 * 0x18 kernel code32, 0x20 user code32 (DPL 3), 0x28 user data, 0x30 user code64, 0x40 TSS.
 *
 * Memory map: 0x800 GDT, 0x1000 IDT (256 × 16 bytes), 0x2000 handlers (64 bytes each),
 * 0x6000 cells (8 bytes each), 0x6800 TSS, 0x8000 PML4, 0x9000/0xA000 PDPTs, 0xB000 PD,
 * 0x70000 IST1 stack top, 0x78000 RSP0 stack top, 0x80000 stack top, 0x100000 code,
 * 0x110000 data.
 */
import { X86Cpu, CpuExit, type CpuBus } from '../../src/cpu/x86/cpu.js';
import { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { CODE_ADDR, DATA_ADDR, RAM_BYTES, STACK_TOP, descriptor } from './cpu-harness.js';

export { CODE_ADDR, DATA_ADDR, STACK_TOP };

export const REG64_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type Reg64Name = (typeof REG64_NAMES)[number];

export const SEL64 = {
  KCODE64: 0x08, KDATA: 0x10, KCODE32: 0x18, UCODE32: 0x23, UDATA: 0x2b, UCODE64: 0x33, TSS: 0x40,
} as const;

export const GDT64_BASE = 0x800;
export const IDT64_BASE = 0x1000;
const HANDLERS = 0x2000;
const HANDLER_SIZE = 64;
export const CELLS64 = 0x6000;
export const TSS64_BASE = 0x6800;
export const PML4_ADDR = 0x8000;
export const IST1_TOP = 0x70000;
export const RSP0_TOP = 0x78000;
/** Virtual aliases of physical 0-2 MiB. */
export const HIGH_ALIAS = 0xffffffff80000000n;
export const HALF_ALIAS = 0xffff800000000000n;

const CELL_VEC = 0, CELL_ERR = 1, CELL_RIP = 2, CELL_CS = 3, CELL_FLAGS = 4, CELL_RSP = 5, CELL_SS = 6;
const NO_VALUE = 0xffffffffffffffffn;
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/** Access rights (VMX layout): 64-bit code (L), data. */
const AR_CODE64 = 0xb | 0x10 | 0x80 | 0x2000 | 0x8000;
const AR_DATA = 0x3 | 0x10 | 0x80 | 0x4000 | 0x8000;
const AR_TSS64_BUSY = 0xb | 0x80;

export interface Run64Input {
  /** Machine code; the harness appends HLT (F4). */
  code: ArrayLike<number>;
  regs?: Partial<Record<Reg64Name, bigint>>;
  /** RFLAGS (bit 1 is forced on). */
  rflags?: number;
  mem?: ReadonlyArray<{ addr: number; bytes: ArrayLike<number> }>;
  /** Instruction budget (default 100000). */
  budget?: number;
  setup?: (cpu: X86Cpu) => void;
}

export interface Exception64 {
  vector: number;
  errorCode: bigint | undefined;
  rip: bigint;
  cs: number;
  rflags: bigint;
  rsp: bigint;
  ss: number;
}

export interface Run64Result {
  exit: 'halt' | 'budget' | 'triple-fault';
  regs: Record<Reg64Name, bigint>;
  rflags: number;
  /** RIP after the run (just past the HLT). */
  rip: bigint;
  exception: Exception64 | undefined;
  read64(addr: number): bigint;
  cpu: X86Cpu;
}

export function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function le64(v: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) out.push(Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn));
  return out;
}

export function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export class LongModeHarness {
  readonly mem = new PhysicalMemory(RAM_BYTES);
  readonly io = new IoPortBus();
  readonly cpu: X86Cpu;

  private constructor(jit: boolean) {
    this.mem.mapRam(0, RAM_BYTES, 0);
    const bus: CpuBus = {
      mem: this.mem,
      io: this.io,
      interrupts: { hasInterrupt: () => false, acknowledge: () => 0 },
      nowNs: () => 0,
      log: NULL_LOGGER,
    };
    this.cpu = new X86Cpu(bus);
    // Every block translated at first sight, so that each snippet runs as translated code.
    if (jit) new JitEngine(this.cpu, this.mem, { threshold: 0 });
    this.installTables();
  }

  /** IA-32e mode, 64-bit code at CPL 0; `jit` runs the code through the JIT. */
  static flat64(options: { jit?: boolean } = {}): LongModeHarness {
    return new LongModeHarness(options.jit ?? false);
  }

  write(addr: number, bytes: ArrayLike<number>): void {
    this.mem.ram.set(bytes, addr);
    // Translated code made from these bytes is stale now.
    this.mem.noteRamWrite(addr, bytes.length);
  }

  write32(addr: number, v: number): void {
    this.mem.write(addr, 4, v >>> 0);
  }

  write64(addr: number, v: bigint): void {
    this.write(addr, le64(v));
  }

  read64(addr: number): bigint {
    return u64(this.mem.read(addr, 4), this.mem.read(addr + 4, 4));
  }

  /** IDT gate `vector`: 64-bit interrupt (0xE) or trap (0xF) gate (SDM Vol. 3A Figure 6-8). */
  setIdtGate(vector: number, offset: bigint, options: { type?: number; selector?: number; dpl?: number; ist?: number; present?: boolean } = {}): void {
    const { type = 0xe, selector = SEL64.KCODE64, dpl = 3, ist = 0, present = true } = options;
    const off = BigInt.asUintN(64, offset);
    const lo = Number(off & 0xffffffffn);
    const a = IDT64_BASE + vector * 16;
    this.write32(a, ((selector << 16) | (lo & 0xffff)) >>> 0);
    this.write32(a + 4, ((lo & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8) | ist) >>> 0);
    this.write32(a + 8, Number(off >> 32n));
    this.write32(a + 12, 0);
  }

  /** Handler address of vector `v` (to point gates back at the recording handlers). */
  handler(v: number): number {
    return HANDLERS + v * HANDLER_SIZE;
  }

  run(input: Run64Input): Run64Result {
    const cpu = this.cpu;
    const s = cpu.s;
    cpu.reset();
    for (let i = 0; i < 7; i++) this.write64(CELLS64 + 8 * i, NO_VALUE);
    for (const m of input.mem ?? []) this.write(m.addr, m.bytes);
    s.cr0 = 0x80000011; // PG, PE, ET
    s.cr3 = PML4_ADDR;
    s.cr4 = 0x20; // PAE
    s.efer = 0x500; // LME, LMA
    s.gdtBase = GDT64_BASE;
    s.gdtLimit = 16 * 8 - 1;
    s.idtBase = IDT64_BASE;
    s.idtLimit = 256 * 16 - 1;
    for (let i = 0; i < 6; i++) {
      const code = i === 1;
      s.segSel[i] = code ? SEL64.KCODE64 : SEL64.KDATA;
      s.segBase[i] = 0;
      s.segLimit[i] = 0xffffffff;
      s.segAr[i] = code ? AR_CODE64 : AR_DATA;
    }
    s.segSel[7] = SEL64.TSS;
    s.segBase[7] = TSS64_BASE;
    s.segLimit[7] = 0x67;
    s.segAr[7] = AR_TSS64_BUSY;
    s.eip = CODE_ADDR;
    s.ripHi = 0;
    cpu.updateMode();
    this.write(CODE_ADDR, input.code);
    this.write(CODE_ADDR + input.code.length, [0xf4]);
    REG64_NAMES.forEach((name, i) => {
      const v = BigInt.asUintN(64, input.regs?.[name] ?? (name === 'rsp' ? BigInt(STACK_TOP) : 0n));
      s.gpr[i] = Number(v & 0xffffffffn) | 0;
      s.gprHi[i] = Number(v >> 32n) | 0;
    });
    cpu.setEflags((input.rflags ?? 0) | 0x2);
    input.setup?.(cpu);

    let left = input.budget ?? 100000;
    let exit: Run64Result['exit'] = 'budget';
    while (left > 0) {
      const why = cpu.run(left);
      left -= Math.max(1, cpu.lastRunCount);
      if (why === CpuExit.Halted) {
        exit = 'halt';
        break;
      }
      if (why === CpuExit.TripleFault) {
        exit = 'triple-fault';
        break;
      }
    }
    const regs = {} as Record<Reg64Name, bigint>;
    REG64_NAMES.forEach((name, i) => {
      regs[name] = u64(s.gpr[i]!, s.gprHi[i]!);
    });
    const cell = (i: number) => this.read64(CELLS64 + 8 * i);
    let exception: Exception64 | undefined;
    if (cell(CELL_VEC) !== NO_VALUE) {
      const err = cell(CELL_ERR);
      exception = {
        vector: Number(cell(CELL_VEC)),
        errorCode: err === NO_VALUE ? undefined : err,
        rip: cell(CELL_RIP),
        cs: Number(cell(CELL_CS)),
        rflags: cell(CELL_FLAGS),
        rsp: cell(CELL_RSP),
        ss: Number(cell(CELL_SS)),
      };
    }
    return {
      exit,
      regs,
      rflags: cpu.getEflags(),
      rip: u64(s.eip, s.ripHi),
      exception,
      read64: (addr: number) => this.read64(addr),
      cpu,
    };
  }

  private installTables(): void {
    const gdt: [number, [number, number]][] = [
      [SEL64.KCODE64, descriptor(0, 0xfffff, 0x9b, 0xa)],
      [SEL64.KDATA, descriptor(0, 0xfffff, 0x93, 0xc)],
      [SEL64.KCODE32, descriptor(0, 0xfffff, 0x9b, 0xc)],
      [SEL64.UCODE32, descriptor(0, 0xfffff, 0xfb, 0xc)],
      [SEL64.UDATA, descriptor(0, 0xfffff, 0xf3, 0xc)],
      [SEL64.UCODE64, descriptor(0, 0xfffff, 0xfb, 0xa)],
      [SEL64.TSS, descriptor(TSS64_BASE, 0x67, 0x8b, 0)],
    ];
    for (const [sel, [lo, hi]] of gdt) {
      this.write32(GDT64_BASE + (sel & ~7), lo);
      this.write32(GDT64_BASE + (sel & ~7) + 4, hi);
    }
    // The TSS descriptor's upper 8 bytes: base[63:32] = 0, type field 0.
    this.write32(GDT64_BASE + SEL64.TSS + 8, 0);
    this.write32(GDT64_BASE + SEL64.TSS + 12, 0);
    // 64-bit TSS: RSP0 at 4, IST1 at 0x24.
    this.write64(TSS64_BASE + 4, BigInt(RSP0_TOP));
    this.write64(TSS64_BASE + 0x24, BigInt(IST1_TOP));
    this.write32(TSS64_BASE + 0x66, 0x68); // I/O map base: no bitmap
    // Page tables: PML4[0] -> PDPT A (PDPT[0] -> PD), PML4[256] and PML4[511] -> PDPT B whose
    // entries 0 and 510 -> PD; PD[0] is a 2 MiB page at 0. P | RW | US.
    const PDPT_A = 0x9000, PDPT_B = 0xa000, PD = 0xb000;
    this.write64(PML4_ADDR, BigInt(PDPT_A | 7));
    this.write64(PML4_ADDR + 256 * 8, BigInt(PDPT_B | 7));
    this.write64(PML4_ADDR + 511 * 8, BigInt(PDPT_B | 7));
    this.write64(PDPT_A, BigInt(PD | 7));
    this.write64(PDPT_B, BigInt(PD | 7));
    this.write64(PDPT_B + 510 * 8, BigInt(PD | 7));
    this.write64(PD, 0x87n); // 2 MiB page, P | RW | US | PS
    for (let v = 0; v < 256; v++) {
      const h = HANDLERS + v * HANDLER_SIZE;
      this.setIdtGate(v, BigInt(h));
      const code: number[] = [];
      const popTo = (cell: number) => code.push(0x8f, 0x04, 0x25, ...le32(CELLS64 + 8 * cell)); // pop qword [abs]
      if (ERROR_CODE_VECTORS.has(v)) popTo(CELL_ERR);
      code.push(0x48, 0xc7, 0x04, 0x25, ...le32(CELLS64 + 8 * CELL_VEC), ...le32(v)); // mov qword [abs], v
      for (const c of [CELL_RIP, CELL_CS, CELL_FLAGS, CELL_RSP, CELL_SS]) popTo(c);
      code.push(0xf4);
      this.write(h, code);
    }
  }
}

export function hex64(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16).padStart(16, '0');
}

/**
 * Runs `input` on a fresh 64-bit harness with the interpreter alone and on one with the JIT,
 * with the instructions each retired, for tests that compare the two engines.
 */
export function runOnBothEngines64(input: Run64Input) {
  const interp = LongModeHarness.flat64();
  const jit = LongModeHarness.flat64({ jit: true });
  const i0 = interp.cpu.retired;
  const a = interp.run(input);
  const j0 = jit.cpu.retired;
  const b = jit.run(input);
  return { a, b, retiredA: interp.cpu.retired - i0, retiredB: jit.cpu.retired - j0, engine: jit.cpu.blockEngine as JitEngine };
}
