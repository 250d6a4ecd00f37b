/**
 * A bare X86Cpu on 2 MiB of RAM for instruction-level tests: no board, no firmware.
 *
 * Two set-ups, both entered by writing the CPU state directly (SDM Vol. 3A 9.9 describes the
 * real switch; a test has no reason to execute it):
 *  - `CpuHarness.flat32()`: protected mode, CPL 0, flat 4 GiB code (selector 0x08) and data
 *    (0x10) segments from a real GDT, and an IDT whose 256 gates record the exception.
 *  - `CpuHarness.real16()`: real mode with an IVT whose 256 vectors do the same.
 *
 * Either way the handler for vector V stores V, the error code (if the vector pushes one),
 * and the CS:EIP and EFLAGS the CPU pushed, then HLTs, so `run` returns the state at the
 * fault plus an `exception` record. The handlers pop what the CPU pushed, so after a
 * same-privilege event ESP/SP come back unchanged. They write their cells through GS
 * (flat32) or CS (real mode), so tests may reload DS, ES and SS freely. Code is run until
 * HLT with an instruction budget, so a bug cannot hang a test.
 *
 * `run` resets the CPU and rewrites the mode state each time, so one harness serves many
 * cases; the GDT, IDT and handlers are written once, by the constructor.
 *
 * Memory map (physical = linear):
 *   0x00000  real mode: IVT
 *   0x00600  real mode: handlers (32 bytes per vector)
 *   0x02600  real mode: exception record cells
 *   0x00800  flat32: GDT (GDT_SELECTORS below)
 *   0x01000  flat32: IDT (256 interrupt gates)
 *   0x02000  flat32: handlers (48 bytes per vector)
 *   0x05000  flat32: exception record cells
 *   0x80000  flat32: top of the stack (ESP)
 *   0x100000 CODE_ADDR: code under test (flat32)
 *   0x110000 DATA_ADDR: data window (flat32; the native fixture runner uses the same addresses)
 */
import { JitEngine } from '../../src/cpu/x86/jit/jit-engine.js';
import { X86Cpu, CpuExit, type CpuBus } from '../../src/cpu/x86/cpu.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import type { InterruptSource } from '../../src/machine/irq.js';

export const RAM_BYTES = 2 * 1024 * 1024;
export const CODE_ADDR = 0x00100000;
export const DATA_ADDR = 0x00110000;
export const STACK_TOP = 0x00080000;

export const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
export type RegName = (typeof REG_NAMES)[number];

/** Segment registers in the CPU's state-array order (ES CS SS DS FS GS, SDM encoding). */
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;
export type SegName = (typeof SEG_NAMES)[number];

/** EFLAGS bits (SDM Vol. 1 3.4.3). */
export const EFLAGS = {
  CF: 1 << 0, PF: 1 << 2, AF: 1 << 4, ZF: 1 << 6, SF: 1 << 7, TF: 1 << 8, IF: 1 << 9, DF: 1 << 10, OF: 1 << 11,
} as const;

/** Selectors of the flat32 GDT. */
export const GDT_SELECTORS = {
  /** 32-bit code, base 0, limit 4 GiB, DPL 0. */
  CODE32: 0x08,
  /** 32-bit read/write data, base 0, limit 4 GiB, DPL 0. */
  DATA32: 0x10,
  /** 32-bit read/write data, base 0, byte-granular limit 0xFFF (for limit-violation tests). */
  DATA_SMALL: 0x18,
  /** 16-bit code, base 0, limit 0xFFFF. */
  CODE16: 0x20,
  /** Read-only data, base 0, limit 4 GiB. */
  DATA_RO: 0x28,
} as const;

export const GDT_BASE = 0x800;
export const IDT_BASE = 0x1000;
/** flat32 GDT limit: room for 16 descriptors. */
export const GDT_LIMIT = 16 * 8 - 1;
const PM_HANDLERS = 0x2000;
const PM_HANDLER_SIZE = 48;
const PM_CELLS = 0x5000;
const RM_HANDLERS = 0x600;
const RM_HANDLER_SIZE = 32;
const RM_CELLS = 0x2600;
/** Cell offsets: vector, error code, EIP, CS, EFLAGS (dwords in flat32, words in real mode). */
const CELL_VEC = 0, CELL_ERR = 1, CELL_EIP = 2, CELL_CS = 3, CELL_FLAGS = 4;
const NO_VALUE = 0xffffffff;

/** Vectors that push an error code (SDM Vol. 3A Table 6-1). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21]);

/** Access rights in the CPU state's VMX layout (type | S<<4 | DPL<<5 | P<<7 | D/B<<14 | G<<15). */
const AR_CODE32 = 0xb | 0x10 | 0x80 | 0x4000 | 0x8000;
const AR_DATA32 = 0x3 | 0x10 | 0x80 | 0x4000 | 0x8000;

/** Builds a code/data descriptor's two dwords (SDM Vol. 3A 3.4.5, Figure 3-8). */
export function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

export interface CpuRunInput {
  /** Machine code; the harness appends HLT (F4). */
  code: ArrayLike<number>;
  /** Register values (the rest are zero, ESP defaults to the harness stack). */
  regs?: Partial<Record<RegName, number>>;
  /** EFLAGS (bit 1 is forced on). Default 0x2. */
  eflags?: number;
  /** Memory to write before running (after `clear`). */
  mem?: ReadonlyArray<{ addr: number; bytes: ArrayLike<number> }>;
  /** Ranges to zero before running. */
  clear?: ReadonlyArray<{ addr: number; length: number }>;
  /** Real mode only: segment register values (selectors); CS:IP is where the code goes. */
  segs?: Partial<Record<SegName, number>>;
  /** Real mode only: IP of the code (default 0x100). */
  ip?: number;
  /** Instruction budget (default 100000). */
  budget?: number;
  /** Called after the harness set up the CPU state, before running (to adjust anything). */
  setup?: (cpu: X86Cpu) => void;
}

export interface CpuException {
  vector: number;
  /** The error code the CPU pushed, for vectors that push one. */
  errorCode: number | undefined;
  /** CS:EIP the CPU pushed (the faulting instruction for a fault). */
  cs: number;
  eip: number;
  /** EFLAGS the CPU pushed. */
  eflags: number;
}

export interface CpuRunResult {
  /** Why the run stopped: HLT (normally the one appended to the code), budget, or triple fault. */
  exit: 'halt' | 'budget' | 'triple-fault';
  regs: Record<RegName, number>;
  eflags: number;
  /** EIP after the run (just past the HLT that stopped it). */
  eip: number;
  exception: CpuException | undefined;
  /** Reads guest memory after the run. */
  read(addr: number, length: number): Uint8Array;
  read32(addr: number): number;
  read16(addr: number): number;
}

export class CpuHarness {
  readonly mem = new PhysicalMemory(RAM_BYTES);
  readonly io = new IoPortBus();
  readonly cpu: X86Cpu;

  private constructor(readonly mode: 'flat32' | 'real16', jit = false, interrupts?: InterruptSource) {
    this.mem.mapRam(0, RAM_BYTES, 0);
    const bus: CpuBus = {
      mem: this.mem,
      io: this.io,
      interrupts: interrupts ?? { hasInterrupt: () => false, acknowledge: () => 0 },
      nowNs: () => 0,
      log: NULL_LOGGER,
    };
    this.cpu = new X86Cpu(bus);
    // Every block translated at first sight, so that each snippet runs as translated code.
    if (jit) new JitEngine(this.cpu, this.mem, { threshold: 0 });
    if (mode === 'flat32') this.installProtectedTables();
    else this.installRealTables();
  }

  /**
   * Flat 32-bit protected mode, CPL 0; `jit` runs the code through the JIT; `interrupts` is
   * the CPU's INTR source (default: never an interrupt).
   */
  static flat32(options: { jit?: boolean; interrupts?: InterruptSource } = {}): CpuHarness {
    return new CpuHarness('flat32', options.jit ?? false, options.interrupts);
  }

  /** Real mode (16-bit). */
  static real16(): CpuHarness {
    return new CpuHarness('real16');
  }

  /** Writes bytes to guest RAM (RAM is mapped at physical 0, so addresses are RAM offsets). */
  write(addr: number, bytes: ArrayLike<number>): void {
    if (addr < 0 || addr + bytes.length > RAM_BYTES) throw new RangeError(`write outside RAM at ${addr}`);
    this.mem.ram.set(bytes, addr);
    this.mem.noteRamWrite(addr, bytes.length);
  }

  /** Fills guest RAM `[addr, addr + length)` with `value`. */
  fill(addr: number, length: number, value = 0): void {
    this.mem.ram.fill(value, addr, addr + length);
  }

  write32(addr: number, v: number): void {
    this.mem.write(addr, 4, v >>> 0);
  }

  write16(addr: number, v: number): void {
    this.mem.write(addr, 2, v & 0xffff);
  }

  /** Writes GDT entry `selector` (flat32 only; the GDT has room for 16 entries). */
  setGdtEntry(selector: number, lo: number, hi: number): void {
    this.write32(GDT_BASE + (selector & ~7), lo);
    this.write32(GDT_BASE + (selector & ~7) + 4, hi);
  }

  /**
   * Points IDT gate `vector` at `offset` (flat32): `type` 0xE is a 32-bit interrupt gate, 0xF a
   * 32-bit trap gate (SDM Vol. 3A Figure 6-2).
   */
  setIdtGate(vector: number, offset: number, options: { type?: number; selector?: number; dpl?: number; present?: boolean } = {}): void {
    const { type = 0xe, selector = GDT_SELECTORS.CODE32, dpl = 3, present = true } = options;
    this.write32(IDT_BASE + vector * 8, ((selector << 16) | (offset & 0xffff)) >>> 0);
    this.write32(IDT_BASE + vector * 8 + 4, ((offset & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8)) >>> 0);
  }

  /** Points real-mode IVT entry `vector` at `segment:offset`. */
  setIvtEntry(vector: number, segment: number, offset: number): void {
    this.write16(vector * 4, offset);
    this.write16(vector * 4 + 2, segment);
  }

  /** Runs `input.code` until HLT and reports the state. */
  run(input: CpuRunInput): CpuRunResult {
    const cpu = this.cpu;
    const s = cpu.s;
    cpu.reset();
    const real = this.mode === 'real16';
    const cells = real ? RM_CELLS : PM_CELLS;
    for (let i = 0; i < 5; i++) this.write32(cells + 4 * i, NO_VALUE);
    for (const c of input.clear ?? []) this.fill(c.addr, c.length);
    for (const m of input.mem ?? []) this.write(m.addr, m.bytes);

    let codeAddr: number;
    if (real) {
      const segs = { es: 0, cs: 0x1000, ss: 0, ds: 0, fs: 0, gs: 0, ...input.segs };
      SEG_NAMES.forEach((name, i) => {
        s.segSel[i] = segs[name];
        s.segBase[i] = segs[name] * 16;
        s.segLimit[i] = 0xffff;
      });
      s.idtBase = 0;
      s.idtLimit = 0x3ff;
      s.eip = input.ip ?? 0x100;
      codeAddr = s.segBase[1]! + s.eip;
    } else {
      s.cr0 = 0x11; // PE, ET
      s.gdtBase = GDT_BASE;
      s.gdtLimit = GDT_LIMIT;
      s.idtBase = IDT_BASE;
      s.idtLimit = 256 * 8 - 1;
      SEG_NAMES.forEach((name, i) => {
        const code = name === 'cs';
        s.segSel[i] = code ? GDT_SELECTORS.CODE32 : GDT_SELECTORS.DATA32;
        s.segBase[i] = 0;
        s.segLimit[i] = 0xffffffff;
        s.segAr[i] = code ? AR_CODE32 : AR_DATA32;
      });
      s.eip = CODE_ADDR;
      codeAddr = CODE_ADDR;
    }
    cpu.updateMode();
    this.write(codeAddr, input.code);
    this.write(codeAddr + input.code.length, [0xf4]);
    REG_NAMES.forEach((name, i) => {
      s.gpr[i] = input.regs?.[name] ?? (name === 'esp' ? (real ? 0x7000 : STACK_TOP) : 0);
    });
    cpu.setEflags((input.eflags ?? 0) | 0x2);
    input.setup?.(cpu);

    const budget = input.budget ?? 100000;
    let exit: CpuRunResult['exit'] = 'budget';
    let left = budget;
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

    const regs = {} as Record<RegName, number>;
    REG_NAMES.forEach((name, i) => {
      regs[name] = s.gpr[i]! >>> 0;
    });
    const cell = (i: number) => (real ? this.mem.read(cells + 2 * i, 2) : this.mem.read(cells + 4 * i, 4));
    const vecRaw = this.mem.read(cells, 4);
    let exception: CpuException | undefined;
    if (vecRaw !== NO_VALUE) {
      const vector = cell(CELL_VEC);
      const err = real ? NO_VALUE : cell(CELL_ERR);
      exception = {
        vector,
        errorCode: err === NO_VALUE ? undefined : err,
        eip: cell(CELL_EIP),
        cs: cell(CELL_CS) & 0xffff,
        eflags: cell(CELL_FLAGS),
      };
    }
    const mem = this.mem;
    return {
      exit,
      regs,
      eflags: cpu.getEflags(),
      eip: s.eip >>> 0,
      exception,
      read(addr: number, length: number): Uint8Array {
        return mem.ram.slice(addr, addr + length);
      },
      read32: (addr: number) => mem.read(addr, 4),
      read16: (addr: number) => mem.read(addr, 2),
    };
  }

  private installProtectedTables(): void {
    const entries: [number, [number, number]][] = [
      [GDT_SELECTORS.CODE32, descriptor(0, 0xfffff, 0x9b, 0xc)],
      [GDT_SELECTORS.DATA32, descriptor(0, 0xfffff, 0x93, 0xc)],
      [GDT_SELECTORS.DATA_SMALL, descriptor(0, 0xfff, 0x93, 0x4)],
      [GDT_SELECTORS.CODE16, descriptor(0, 0xffff, 0x9b, 0x0)],
      [GDT_SELECTORS.DATA_RO, descriptor(0, 0xfffff, 0x91, 0xc)],
    ];
    for (const [sel, [lo, hi]] of entries) this.setGdtEntry(sel, lo, hi);
    for (let v = 0; v < 256; v++) {
      const handler = PM_HANDLERS + v * PM_HANDLER_SIZE;
      // 32-bit interrupt gate, DPL 3 (so INT n works from any level), present.
      this.write32(IDT_BASE + v * 8, ((GDT_SELECTORS.CODE32 << 16) | (handler & 0xffff)) >>> 0);
      this.write32(IDT_BASE + v * 8 + 4, ((handler & 0xffff0000) | 0xee00) >>> 0);
      const code: number[] = [];
      // GS is the one segment register the tests leave flat, so the cells go through it.
      const popTo = (cell: number) => code.push(0x65, 0x8f, 0x05, ...le32(PM_CELLS + 4 * cell)); // pop dword gs:[cell]
      if (ERROR_CODE_VECTORS.has(v)) popTo(CELL_ERR);
      code.push(0x65, 0xc7, 0x05, ...le32(PM_CELLS + 4 * CELL_VEC), ...le32(v)); // mov dword gs:[vec], v
      popTo(CELL_EIP);
      popTo(CELL_CS);
      popTo(CELL_FLAGS);
      code.push(0xf4); // hlt
      this.write(handler, code);
    }
  }

  private installRealTables(): void {
    for (let v = 0; v < 256; v++) {
      const handler = RM_HANDLERS + v * RM_HANDLER_SIZE;
      this.write32(v * 4, handler & 0xffff); // segment 0
      const code: number[] = [];
      const popTo = (cell: number) => code.push(0x2e, 0x8f, 0x06, ...le16(RM_CELLS + 2 * cell)); // pop word cs:[cell]
      code.push(0x2e, 0xc7, 0x06, ...le16(RM_CELLS + 2 * CELL_VEC), ...le16(v)); // mov word cs:[vec], v
      popTo(CELL_EIP);
      popTo(CELL_CS);
      popTo(CELL_FLAGS);
      code.push(0xf4);
      this.write(handler, code);
    }
  }
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function le16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

/** "CF PF ZF" for the arithmetic flags and DF set in `f`. */
export function flagNames(f: number): string {
  const names: string[] = [];
  for (const [name, bit] of [['OF', EFLAGS.OF], ['DF', EFLAGS.DF], ['SF', EFLAGS.SF], ['ZF', EFLAGS.ZF], ['AF', EFLAGS.AF], ['PF', EFLAGS.PF], ['CF', EFLAGS.CF]] as const) {
    if (f & bit) names.push(name);
  }
  return names.length ? names.join(' ') : '-';
}

export function hex32(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/**
 * Runs `code` on a fresh flat 32-bit harness with the interpreter alone and on one with the
 * JIT (translating at once), for tests that compare the two engines.
 */
export function runOnBothEngines(code: number[], budget: number, setup?: Parameters<CpuHarness['run']>[0]['setup']) {
  const interp = CpuHarness.flat32();
  const jit = CpuHarness.flat32({ jit: true });
  const a = interp.run({ code, budget, setup });
  const b = jit.run({ code, budget, setup });
  return { a, b, interpCpu: interp.cpu, jitCpu: jit.cpu, engine: jit.cpu.blockEngine as JitEngine };
}
