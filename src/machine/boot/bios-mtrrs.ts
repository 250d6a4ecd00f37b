/**
 * The MTRRs a BIOS leaves programmed, for direct kernel boot, where no BIOS runs. QEMU boots
 * `-kernel` through SeaBIOS, whose mtrr_setup (src/fw/mtrr.c, SeaBIOS 1.16) runs after PCI
 * set-up and leaves:
 *
 *  - fixed ranges: 0-0x9FFFF write-back, the VGA window 0xA0000-0xBFFFF uncacheable, the ROM
 *    area 0xC0000-0xFFFFF write-protected (each range only if RAM reaches it);
 *  - variable range 0: the PCI hole from `pcimem_start` to 4 GiB uncacheable; for the
 *    i440FX, pcimem_start is 2 GiB when the RAM below 4 GiB fits in 2 GiB, 3 GiB when it fits
 *    in 3 GiB, else 0xE0000000 (src/fw/pciinit.c i440fx_mem_addr_setup, BUILD_PCIMEM_START);
 *    the mask covers the CPU's physical-address width (CPUID 0x80000008);
 *  - IA32_MTRR_DEF_TYPE: MTRRs and fixed ranges enabled, default type write-back.
 *
 * Without this Linux finds the MTRRs disabled and blank ("MTRRs disabled, skipping PAT
 * initialization too", "CPU MTRRs all blank - virtualized system") and keeps the reset PAT;
 * with it, it programs its own PAT as under QEMU. The values go through WRMSR's own checks.
 */
import type { X86Cpu } from '../../cpu/x86/cpu.js';
import { MAXPHYADDR } from '../../cpu/x86/cpu-model.js';
import { writeMsr } from '../../cpu/x86/msr.js';

const MTRR_FIX64K_00000 = 0x250;
const MTRR_FIX16K_80000 = 0x258;
const MTRR_FIX16K_A0000 = 0x259;
const MTRR_FIX4K_C0000 = 0x268;
const MTRR_PHYSBASE0 = 0x200;
const MTRR_VARIABLE_COUNT = 8;
const MTRR_DEF_TYPE = 0x2ff;
/** Memory types (SDM Vol. 3A Table 11-8). */
const UC = 0, WP = 5, WB = 6;
/** IA32_MTRR_DEF_TYPE: E (11) and FE (10). */
const DEF_TYPE_ENABLE = 0xc00;
/** PHYSMASK bit 11: the range is valid. */
const PHYSMASK_VALID = 0x800;

/** SeaBIOS's start of the i440FX PCI memory window for `ramBelow4g` bytes of low RAM. */
export function biosPciMemStart(ramBelow4g: number): number {
  if (ramBelow4g <= 0x80000000) return 0x80000000;
  if (ramBelow4g <= 0xc0000000) return 0xc0000000;
  return 0xe0000000;
}

/** Eight one-byte memory types, byte i = `type` if RAM covers [start + i·step, start + (i+1)·step). */
function fixedRange(ramBelow4g: number, start: number, step: number, type: number): [number, number] {
  let lo = 0, hi = 0;
  for (let i = 0; i < 8; i++) {
    if (ramBelow4g < start + step * (i + 1)) continue;
    if (i < 4) lo |= type << (8 * i);
    else hi |= type << (8 * (i - 4));
  }
  return [lo >>> 0, hi >>> 0];
}

/** Programs the MTRRs as SeaBIOS would for `ramBelow4g` bytes of RAM below 4 GiB. */
export function programBiosMtrrs(cpu: X86Cpu, ramBelow4g: number): void {
  writeMsr(cpu, MTRR_DEF_TYPE, 0, 0);
  writeMsr(cpu, MTRR_FIX64K_00000, ...fixedRange(ramBelow4g, 0, 0x10000, WB));
  writeMsr(cpu, MTRR_FIX16K_80000, ...fixedRange(ramBelow4g, 0x80000, 0x4000, WB));
  writeMsr(cpu, MTRR_FIX16K_A0000, 0, 0);
  for (let j = 0; j < 8; j++) writeMsr(cpu, MTRR_FIX4K_C0000 + j, ...fixedRange(ramBelow4g, 0xc0000 + j * 0x8000, 0x1000, WP));
  for (let i = 0; i < 2 * MTRR_VARIABLE_COUNT; i++) writeMsr(cpu, MTRR_PHYSBASE0 + i, 0, 0);
  // Range 0: [pcimem_start, 4 GiB) uncacheable. The mask is -(size) over MAXPHYADDR bits:
  // low dword -(size) (size is below 4 GiB), high dword all ones up to MAXPHYADDR.
  const start = biosPciMemStart(ramBelow4g);
  const size = 0x1_0000_0000 - start;
  writeMsr(cpu, MTRR_PHYSBASE0, (start | UC) >>> 0, 0);
  writeMsr(cpu, MTRR_PHYSBASE0 + 1, ((-size >>> 0) | PHYSMASK_VALID) >>> 0, (1 << (MAXPHYADDR - 32)) - 1);
  writeMsr(cpu, MTRR_DEF_TYPE, DEF_TYPE_ENABLE | WB, 0);
}
