/**
 * What the board leaves behind for a directly booted kernel in place of SeaBIOS (QEMU boots
 * `-kernel` through it): the MTRRs of SeaBIOS's mtrr_setup (src/fw/mtrr.c; pcimem_start from
 * src/fw/pciinit.c i440fx_mem_addr_setup) and the i8042 command byte of its keyboard_init
 * (src/hw/ps2port.c: AUXDIS | XLATE | KBDINT). Expected values are worked out by hand from
 * that source and the SDM's MTRR layout (Vol. 3A 11.11.2), not taken from the code.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { defaultMachineConfig, type KernelBootConfig } from '../../src/machine/config.js';
import { NULL_LOGGER } from '../../src/machine/log.js';
import { readMsr, writeMsr } from '../../src/cpu/x86/msr.js';
import { X86Cpu } from '../../src/cpu/x86/cpu.js';
import { PhysicalMemory } from '../../src/memory/physical-memory.js';
import { IoPortBus } from '../../src/memory/io-bus.js';
import { programBiosMtrrs } from '../../src/machine/boot/bios-mtrrs.js';
import { hltBzImage } from '../helpers/bzimage.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;


function machine(kernel: KernelBootConfig | undefined, memoryBytes = 64 * MiB): Machine {
  return new Machine(defaultMachineConfig({ memoryBytes, kernel }), { serial: [], log: NULL_LOGGER });
}
const KERNEL: KernelBootConfig = { fileName: 'bzImage', data: hltBzImage(), cmdline: '', initrd: [] };

const WB8: [number, number] = [0x06060606, 0x06060606];
const WP8: [number, number] = [0x05050505, 0x05050505];

describe('MTRRs under direct kernel boot (as SeaBIOS leaves them)', () => {
  it('64 MiB: fixed ranges WB below 640 KiB, UC VGA, WP ROM area; PCI hole 2-4 GiB UC; enabled, default WB', () => {
    const cpu = machine(KERNEL).cpu;
    expect(readMsr(cpu, 0x250)).toEqual(WB8); // 00000-7FFFF
    expect(readMsr(cpu, 0x258)).toEqual(WB8); // 80000-9FFFF
    expect(readMsr(cpu, 0x259)).toEqual([0, 0]); // A0000-BFFFF: VGA, uncacheable
    for (let j = 0; j < 8; j++) expect(readMsr(cpu, 0x268 + j)).toEqual(WP8); // C0000-FFFFF
    // PHYSBASE0 = 2 GiB | UC; PHYSMASK0 = ~(2 GiB - 1) over 40 bits | valid.
    expect(readMsr(cpu, 0x200)).toEqual([0x80000000, 0]);
    expect(readMsr(cpu, 0x201)).toEqual([0x80000800, 0xff]);
    for (let i = 2; i < 16; i++) expect(readMsr(cpu, 0x200 + i)).toEqual([0, 0]);
    expect(readMsr(cpu, 0x2ff)).toEqual([0xc06, 0]); // E | FE | WB
  });

  it('are programmed again after a reset, over what the guest wrote', () => {
    const m = machine(KERNEL);
    writeMsr(m.cpu, 0x2ff, 0, 0);
    writeMsr(m.cpu, 0x259, 0x06060606, 0);
    m.reset();
    expect(readMsr(m.cpu, 0x2ff)).toEqual([0xc06, 0]);
    expect(readMsr(m.cpu, 0x259)).toEqual([0, 0]);
  });

  it('the PCI hole starts at 3 GiB for up to 3 GiB of low RAM, at 0xE0000000 above that', () => {
    const cpu = new X86Cpu({ mem: new PhysicalMemory(4096), io: new IoPortBus(), interrupts: { hasInterrupt: () => false, acknowledge: () => 0 }, nowNs: () => 0, log: NULL_LOGGER });
    programBiosMtrrs(cpu, 2.5 * GiB);
    expect(readMsr(cpu, 0x200)).toEqual([0xc0000000, 0]);
    expect(readMsr(cpu, 0x201)).toEqual([0xc0000800, 0xff]);
    programBiosMtrrs(cpu, 3.5 * GiB);
    expect(readMsr(cpu, 0x200)).toEqual([0xe0000000, 0]);
    expect(readMsr(cpu, 0x201)).toEqual([0xe0000800, 0xff]);
    programBiosMtrrs(cpu, 2 * GiB);
    expect(readMsr(cpu, 0x200)).toEqual([0x80000000, 0]);
  });

  it('without -kernel the MTRRs keep their power-on state (disabled, zero): the BIOS programs them', () => {
    const cpu = machine(undefined).cpu;
    expect(readMsr(cpu, 0x2ff)).toEqual([0, 0]);
    expect(readMsr(cpu, 0x250)).toEqual([0, 0]);
  });
});

describe('the i8042 under direct kernel boot', () => {
  it('command byte 0x61 (translation on, keyboard IRQ on, mouse port off); 0x03 without -kernel, as QEMU powers on', () => {
    expect(machine(KERNEL).kbc.commandByte).toBe(0x61);
    expect(machine(undefined).kbc.commandByte).toBe(0x03);
  });

  it("the keyboard's ID reaches the guest translated (AB 41), which is how Linux's atkbd tells 'AT Translated Set 2'", () => {
    const m = machine(KERNEL);
    m.io.write(0x60, 1, 0xf2); // GET ID
    const bytes: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(m.io.read(0x64, 1) & 1).toBe(1);
      bytes.push(m.io.read(0x60, 1));
    }
    expect(bytes).toEqual([0xfa, 0xab, 0x41]);
  });
});
