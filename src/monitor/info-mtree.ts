/**
 * HMP `info mtree` in QEMU's line format (softmmu/memory.c mtree_print_mr): per address
 * space a header, the root container `0000000000000000-ffffffffffffffff (prio 0, i/o): system`
 * (`io` for the 64 KiB port space), and its regions indented two spaces per level as
 * `start-end (prio 0, type): name`. RAM pieces print as QEMU's aliases of `pc.ram`
 * (`alias ram-below-4g @pc.ram offset-end`). pcvm's map is flat (no overlapping priorities),
 * so the tree has one level under each root.
 */
import type { MemoryMapRegion } from '../memory/physical-memory.js';

const h = (v: number) => BigInt(v).toString(16).padStart(16, '0');
const FOUR_GIB = 4294967296;

export function formatInfoMtree(memory: readonly MemoryMapRegion[], io: readonly { name: string; base: number; length: number }[]): string {
  const out = ['address-space: cpu-memory-0', 'address-space: memory', '  0000000000000000-ffffffffffffffff (prio 0, i/o): system'];
  for (const r of memory) {
    const range = `    ${h(r.base)}-${h(r.base + r.size - 1)}`;
    if (r.kind === 'ram') {
      const alias = r.base >= FOUR_GIB ? 'ram-above-4g' : 'ram-below-4g';
      out.push(`${range} (prio 0, ram): alias ${alias} @pc.ram ${h(r.ramOffset)}-${h(r.ramOffset + r.size - 1)}`);
    } else {
      out.push(`${range} (prio 0, ${r.kind === 'rom' ? 'rom' : 'i/o'}): ${r.name}`);
    }
  }
  out.push('', 'address-space: I/O', '  0000000000000000-000000000000ffff (prio 0, i/o): io');
  for (const p of io) out.push(`    ${h(p.base)}-${h(p.base + p.length - 1)} (prio 0, i/o): ${p.name}`);
  return out.join('\n');
}
