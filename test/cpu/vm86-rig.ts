/**
 * A virtual-8086 test bench on the flat32 CpuHarness: a 32-bit TSS (ring-0 stack SS0:ESP0 =
 * 0x10:STACK_TOP, an I/O permission bitmap), an IDT whose every gate leads to a ring-0
 * handler that only HLTs (so a run stops at CPL 0 with the frame the CPU pushed still on the
 * stack), and ring-0 code that IRETDs into virtual-8086 code with the EFLAGS image asked for
 * (SDM Vol. 3B 20.2.1: entering virtual-8086 mode through IRET at CPL 0).
 *
 * Memory (linear = physical unless a test turns paging on):
 *   0x07000  TSS (0x68 bytes), then the I/O bitmap (0x2000 bytes) and its 0xFF end byte
 *   0x30000  V86_CS:0000 — the virtual-8086 code goes at V86_CS:V86_IP
 *   0x40000  V86_SS:0000 — the virtual-8086 stack (SP = V86_SP)
 *   0x50000  V86_DS, then ES/FS/GS 0x100 paragraphs apart
 *   0x60000  ring-0 handlers, 16 bytes per vector (HLT unless a test writes its own)
 */
import { CODE_ADDR, CpuHarness, descriptor, GDT_SELECTORS, STACK_TOP, type CpuRunResult } from '../helpers/cpu-harness.js';
import type { InterruptSource } from '../../src/machine/irq.js';

export const VM = 1 << 17;
export const IF = 1 << 9;
export const TF = 1 << 8;
export const NT = 1 << 14;
export const RF = 1 << 16;
export const IOPL3 = 3 << 12;

export const TSS_SEL = 0x48;
export const TSS_BASE = 0x7000;
export const IO_BITMAP = TSS_BASE + 0x68;
/** Ring-3 protected-mode segments (for the IRET-at-CPL-3 test). */
export const CODE3 = 0x38;
export const DATA3 = 0x40;
/** A DPL-3 code segment and a conforming DPL-0 one, as bad handler targets from VM86. */
export const CODE_DPL3 = 0x50;
export const CODE_CONFORMING = 0x58;

export const V86_CS = 0x3000;
export const V86_IP = 0x0100;
export const V86_SS = 0x4000;
export const V86_SP = 0xfff0;
export const V86_DS = 0x5000;
export const V86_ES = 0x5100;
export const V86_FS = 0x5200;
export const V86_GS = 0x5300;
export const V86_CODE = V86_CS * 16 + V86_IP;

export const HANDLERS = 0x60000;
export const handlerAddr = (v: number) => HANDLERS + v * 16;

export const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
export const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export interface Vm86Options {
  jit?: boolean;
  interrupts?: InterruptSource;
}

/**
 * vm86Harness with an interrupt source that raises `vector` once, when the CPU is in
 * virtual-8086 mode at EIP `ip` (an external interrupt at a chosen instruction boundary).
 */
export function vm86HarnessInterruptedAt(vector: number, ip: number): CpuHarness {
  let armed = true;
  let cpu: CpuHarness['cpu'] | undefined;
  const h = vm86Harness({
    interrupts: {
      hasInterrupt: () => armed && cpu !== undefined && (cpu.s.eflags & VM) !== 0 && cpu.s.eip === ip,
      acknowledge: () => {
        armed = false;
        return vector;
      },
    },
  });
  cpu = h.cpu;
  return h;
}

/** The bench: GDT entries, TSS with a deny-all I/O bitmap, every IDT gate to a HLT. */
export function vm86Harness(options: Vm86Options = {}): CpuHarness {
  const h = CpuHarness.flat32(options);
  h.setGdtEntry(CODE3, ...descriptor(0, 0xfffff, 0xfb, 0xc));
  h.setGdtEntry(DATA3, ...descriptor(0, 0xfffff, 0xf3, 0xc));
  h.setGdtEntry(CODE_DPL3, ...descriptor(0, 0xfffff, 0xfb, 0xc));
  h.setGdtEntry(CODE_CONFORMING, ...descriptor(0, 0xfffff, 0x9f, 0xc));
  markTssAvailable(h);
  h.fill(TSS_BASE, 0x68, 0);
  h.write32(TSS_BASE + 4, STACK_TOP); // ESP0
  h.write32(TSS_BASE + 8, GDT_SELECTORS.DATA32); // SS0
  h.write16(TSS_BASE + 0x66, 0x68); // I/O map base
  h.fill(IO_BITMAP, 0x2001, 0xff);
  for (let v = 0; v < 256; v++) {
    h.setIdtGate(v, handlerAddr(v));
    h.write(handlerAddr(v), [0xf4]);
  }
  return h;
}

/**
 * The TSS descriptor: an available 32-bit TSS covering the bitmap for all 65,536 ports plus
 * the trailing 0xFF byte. Rewritten before each run, since LTR marks it busy.
 */
function markTssAvailable(h: CpuHarness): void {
  h.setGdtEntry(TSS_SEL, ...descriptor(TSS_BASE, 0x68 + 0x2000, 0x89, 0x0));
}

/** Clears the bitmap bits of `ports` (allows them). */
export function allowPorts(h: CpuHarness, ...ports: number[]): void {
  for (const p of ports) {
    const a = IO_BITMAP + (p >> 3);
    h.write(a, [h.mem.read(a, 1) & ~(1 << (p & 7))]);
  }
}

export interface Vm86Run {
  /** VM86 code placed at V86_CS:V86_IP. */
  code: number[];
  /** Ring-0 32-bit code run before the entry (e.g. to turn paging on). */
  prologue?: number[];
  /** The EFLAGS image IRETD loads (VM is added). */
  eflags?: number;
  regs?: Parameters<CpuHarness['run']>[0]['regs'];
  /** Extra bytes to write before the run. */
  mem?: ReadonlyArray<{ addr: number; bytes: ArrayLike<number> }>;
  budget?: number;
  setup?: Parameters<CpuHarness['run']>[0]['setup'];
}

/**
 * Ring-0 code that loads TR and IRETDs to V86_CS:V86_IP with the given EFLAGS image (VM set),
 * SS:SP = V86_SS:V86_SP and DS/ES/FS/GS = V86_DS/ES/FS/GS (the frame of SDM Figure 20-4).
 */
export function enterVm86Code(eflags: number): number[] {
  const push = (v: number) => [0x68, ...le32(v)];
  return [
    0x66, 0xb8, ...le16(TSS_SEL), 0x0f, 0x00, 0xd8, // mov ax, TSS_SEL ; ltr ax
    ...push(V86_GS), ...push(V86_FS), ...push(V86_DS), ...push(V86_ES),
    ...push(V86_SS), ...push(V86_SP), ...push((eflags | VM | 2) >>> 0),
    ...push(V86_CS), ...push(V86_IP),
    0xcf, // iretd
  ];
}

/** Runs `input.code` in virtual-8086 mode; stops at the first ring-0 handler's HLT (or the budget). */
export function runVm86(h: CpuHarness, input: Vm86Run): CpuRunResult {
  markTssAvailable(h);
  return h.run({
    code: [...(input.prologue ?? []), ...enterVm86Code(input.eflags ?? 0)],
    regs: input.regs,
    budget: input.budget,
    setup: input.setup,
    mem: [{ addr: V86_CODE, bytes: input.code }, ...(input.mem ?? [])],
  });
}

/** The vector whose ring-0 handler HLTed (EIP is just past the HLT), or undefined. */
export function handledVector(h: CpuHarness, r: CpuRunResult): number | undefined {
  const off = r.eip - 1 - HANDLERS;
  if (r.exit !== 'halt' || off < 0 || off % 16 !== 0 || off / 16 > 255) return undefined;
  return h.cpu.cpl === 0 ? off / 16 : undefined;
}

/** The ring-0 frame of SDM Figure 20-4 at ESP (after the error code, if `hasCode`). */
export interface Vm86Frame {
  errorCode?: number;
  eip: number;
  cs: number;
  eflags: number;
  esp: number;
  ss: number;
  es: number;
  ds: number;
  fs: number;
  gs: number;
}

export function readFrame(r: CpuRunResult, hasCode: boolean): Vm86Frame {
  let a = r.regs.esp;
  const next = () => {
    const v = r.read32(a);
    a += 4;
    return v;
  };
  const errorCode = hasCode ? next() : undefined;
  // Selectors are pushed as dwords whose upper word the SDM leaves unspecified ("Unused").
  const sel = () => next() & 0xffff;
  const f: Vm86Frame = { eip: next(), cs: sel(), eflags: next(), esp: next(), ss: sel(), es: sel(), ds: sel(), fs: sel(), gs: sel() };
  if (hasCode) f.errorCode = errorCode;
  return f;
}

/** The frame the bench's VM86 entry leaves when nothing changed the segment registers. */
export function entryFrame(eip: number, eflags: number, sp = V86_SP): Omit<Vm86Frame, 'errorCode'> {
  return { eip, cs: V86_CS, eflags: (eflags | VM | 2) >>> 0, esp: sp, ss: V86_SS, es: V86_ES, ds: V86_DS, fs: V86_FS, gs: V86_GS };
}

/**
 * The frame of a fault: as entryFrame, with RF = 1 in the EFLAGS image (SDM 18.3.1.1: every
 * fault-class exception but an instruction breakpoint's #DB pushes RF = 1).
 */
export function faultFrame(eip: number, eflags: number, sp = V86_SP): Omit<Vm86Frame, 'errorCode'> {
  return entryFrame(eip, eflags | 0x10000, sp);
}

export { CODE_ADDR, GDT_SELECTORS, STACK_TOP };
