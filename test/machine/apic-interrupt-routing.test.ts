/**
 * The board's interrupt routing through the APICs, proved by guest code: an ISA device's
 * IRQ line reaches the CPU through the I/O APIC and the local APIC with the programmed
 * vector; EOI clears ISR and Remote IRR of a level-triggered line; the LAPIC timer (one-shot
 * and TSC-deadline) fires at the programmed virtual time; CPUID and IA32_APIC_BASE tell the
 * truth.
 *
 * Guests are small real-mode programs. To reach the LAPIC registers from real mode they
 * move the APIC page to 0x80000 through IA32_APIC_BASE (SDM 10.4.5) and address it as
 * ES=0x8000. The I/O APIC at 0xFEC00000 is out of real mode's reach, so the test programs
 * its redirection entry through the same MMIO path, as firmware would have.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type MachineConfig } from '../../src/machine/config.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { romWithCode } from '../helpers/rom.js';

const DEBUG_EXIT = [{ iobase: 0xf4, iosize: 4 }];
const VECTOR = 0x61;

function machine(code: number[], config: Partial<MachineConfig> = {}): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes: 16 * 1024 * 1024, bios: romWithCode(code), debugExits: DEBUG_EXIT, ...config }), {
    serial: [],
    log: NULL_LOGGER,
  });
}

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** mov dword [es:off], imm32 — a LAPIC register write. */
const apicWrite = (off: number, v: number) => [0x26, 0x66, 0xc7, 0x06, ...le16(off), ...le32(v)];
/** mov eax, [es:off] — a LAPIC register read. */
const apicRead = (off: number) => [0x26, 0x66, 0xa1, ...le16(off)];
/** mov [addr], eax */
const storeEax = (addr: number) => [0x66, 0xa3, ...le16(addr)];
/** cmp byte [0x500], n; jb back to the cmp */
const waitCount = (n: number) => [0x80, 0x3e, 0x00, 0x05, n, 0x72, 0xf9];
/** mov al, [0x500]; out 0xf4, al; hlt — exit status (count << 1) | 1 */
const EXIT_WITH_COUNT = [0xa0, 0x00, 0x05, 0xe6, 0xf4, 0xf4];
/** inc byte [0x500] */
const COUNT = [0xfe, 0x06, 0x00, 0x05];
const EOI = apicWrite(0xb0, 0);
const IRET = [0xcf];
const RDTSC = [0x0f, 0x31];

/**
 * Real-mode set-up: DS=SS=0, SP=0x7000, IVT[VECTOR] = F000:handler, LAPIC page at 0x80000,
 * ES=0x8000, APIC software-enabled (SVR 0x1FF), then `body`; `handler` follows.
 */
function program(body: number[], handler: number[]): number[] {
  const prologue = (handlerOffset: number) => [
    0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xd0, 0xbc, 0x00, 0x70, // xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7000
    0xc7, 0x06, ...le16(VECTOR * 4), ...le16(handlerOffset), // IVT offset
    0xc7, 0x06, ...le16(VECTOR * 4 + 2), 0x00, 0xf0, // IVT segment F000
    0x66, 0xb9, ...le32(0x1b), // mov ecx, IA32_APIC_BASE
    0x66, 0xb8, ...le32(0x00080900), // mov eax, 0x80000 | enable | BSP
    0x66, 0x31, 0xd2, 0x0f, 0x30, // xor edx,edx; wrmsr
    0xb8, 0x00, 0x80, 0x8e, 0xc0, // mov ax,0x8000; mov es,ax
    ...apicWrite(0xf0, 0x1ff), // SVR: enabled, spurious vector 0xFF
  ];
  const main = [...prologue(0), ...body];
  return [...prologue(main.length), ...body, ...handler];
}

function dword(m: Machine, addr: number): number {
  return m.memory.read(addr, 4);
}

describe('interrupt routing through the I/O APIC and the local APIC', () => {
  it('a level-triggered ISA IRQ (COM1 THRE on IRQ4) reaches the CPU as the IOAPIC vector; EOI clears ISR and Remote IRR', async () => {
    const body = [
      ...apicWrite(0x350, 0x10700), // LVT LINT0 masked: the 8259 is out of the path
      0xba, 0xf9, 0x03, 0xb0, 0x02, 0xee, // IER = THRE interrupt: IRQ4 goes high and stays
      0xfb, // sti
      ...waitCount(2),
      ...EXIT_WITH_COUNT,
    ];
    const handler = [
      ...COUNT,
      ...apicRead(0x130), ...storeEax(0x504), // ISR bits 96-127
      ...apicRead(0x1b0), ...storeEax(0x508), // TMR bits 96-127
      0x80, 0x3e, 0x00, 0x05, 0x02, 0x72, 0x06, // cmp byte [0x500],2; jb eoi
      0xba, 0xf9, 0x03, 0x30, 0xc0, 0xee, // second time: IER = 0, IRQ4 goes low
      ...EOI, // eoi: the first one leaves the line high, so the IOAPIC must send it again
      ...IRET,
    ];
    const m = machine(program(body, handler));
    // Firmware's part: IOAPIC pin 4 = vector 0x61, fixed, physical destination 0, level, unmasked.
    m.memory.write(0xfec00000, 4, 0x19);
    m.memory.write(0xfec00010, 4, 0x00000000);
    m.memory.write(0xfec00000, 4, 0x18);
    m.memory.write(0xfec00010, 4, 0x00008000 | VECTOR);
    m.start();
    expect(await m.waitForExit()).toBe((2 << 1) | 1); // the handler ran exactly twice
    expect(dword(m, 0x504)).toBe(1 << (VECTOR - 96)); // in service during the handler
    expect(dword(m, 0x508)).toBe(1 << (VECTOR - 96)); // level-triggered
    m.memory.write(0xfec00000, 4, 0x18);
    expect(m.memory.read(0xfec00010, 4)).toBe(0x00008000 | VECTOR); // Remote IRR (bit 14) clear
    expect(m.lapic.saveState().isr).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.infoIoapic()).toContain('  pin 4  0x0000000000008061 dest=0 vec=97  active-hi level        fixed  physical');
  });

  it('the LAPIC one-shot timer interrupts at initial count × divisor ns of virtual time', async () => {
    const body = [
      ...apicWrite(0x3e0, 0xb), // divide by 1
      ...apicWrite(0x320, VECTOR), // LVT timer: one-shot, unmasked
      0xfb,
      ...RDTSC, ...storeEax(0x510),
      ...apicWrite(0x380, 100000), // initial count: 100 µs at 1 GHz
      ...waitCount(1), // spin, so only the clock's early exit can make the timer punctual
      ...EXIT_WITH_COUNT,
    ];
    const handler = [...RDTSC, ...storeEax(0x514), ...COUNT, ...EOI, ...IRET];
    const m = machine(program(body, handler), { clock: { kind: 'icount', shift: 0 } });
    m.start();
    expect(await m.waitForExit()).toBe(3);
    const elapsed = dword(m, 0x514) - dword(m, 0x510);
    expect(elapsed).toBeGreaterThanOrEqual(100000);
    expect(elapsed).toBeLessThan(100050);
  });

  it('TSC-deadline mode: WRMSR IA32_TSC_DEADLINE fires when the TSC reaches it, then the MSR reads 0', async () => {
    const body = [
      ...apicWrite(0x320, 0x40000 | VECTOR), // LVT timer: TSC-deadline
      0xfb,
      ...RDTSC, ...storeEax(0x510),
      0x66, 0x05, ...le32(250000), // add eax, 250000
      0x66, 0x83, 0xd2, 0x00, // adc edx, 0
      0x66, 0xb9, ...le32(0x6e0), 0x0f, 0x30, // mov ecx, IA32_TSC_DEADLINE; wrmsr
      ...waitCount(1),
      ...EXIT_WITH_COUNT,
    ];
    const handler = [
      ...RDTSC, ...storeEax(0x514),
      0x66, 0xb9, ...le32(0x6e0), 0x0f, 0x32, ...storeEax(0x518), // rdmsr IA32_TSC_DEADLINE
      ...COUNT, ...EOI, ...IRET,
    ];
    const m = machine(program(body, handler), { clock: { kind: 'icount', shift: 0 } });
    m.memory.write(0x518, 4, 0xdeadbeef);
    m.start();
    expect(await m.waitForExit()).toBe(3);
    const elapsed = dword(m, 0x514) - dword(m, 0x510);
    expect(elapsed).toBeGreaterThanOrEqual(250000);
    expect(elapsed).toBeLessThan(250050);
    expect(dword(m, 0x518)).toBe(0);
  });

  it('CPUID reports the APIC, its ID and TSC-deadline; clearing IA32_APIC_BASE[11] clears the APIC bit', async () => {
    const cpuid1 = [0x66, 0xb8, ...le32(1), 0x0f, 0xa2]; // mov eax,1; cpuid
    const code = [
      0x31, 0xc0, 0x8e, 0xd8, // xor ax,ax; mov ds,ax
      ...cpuid1,
      0x66, 0x89, 0x16, ...le16(0x520), // mov [0x520], edx
      0x66, 0x89, 0x0e, ...le16(0x524), // mov [0x524], ecx
      0x66, 0x89, 0x1e, ...le16(0x528), // mov [0x528], ebx
      0x66, 0xb9, ...le32(0x1b), 0x0f, 0x32, ...storeEax(0x52c), // rdmsr IA32_APIC_BASE
      0x66, 0x25, ...le32(~0x800), 0x0f, 0x30, // and eax, ~enable; wrmsr
      ...cpuid1,
      0x66, 0x89, 0x16, ...le16(0x530),
      0xb0, 0x00, 0xe6, 0xf4, 0xf4,
    ];
    const m = machine(code);
    m.start();
    expect(await m.waitForExit()).toBe(1);
    expect(dword(m, 0x520) & (1 << 9)).toBe(1 << 9); // EDX.APIC
    expect(dword(m, 0x524) & (1 << 24)).toBe(1 << 24); // ECX.TSC_DEADLINE
    expect(dword(m, 0x528) >>> 24).toBe(0); // initial APIC ID
    expect(dword(m, 0x52c)).toBe(0xfee00900);
    expect(dword(m, 0x530) & (1 << 9)).toBe(0);
    expect(m.memory.read(0xfee00030, 4)).toBe(0xffffffff); // the registers are gone
  });
});
