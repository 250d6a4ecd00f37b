/**
 * HMP `info qtree` in QEMU's layout (softmmu/qdev-monitor.c qbus_print, qdev_print,
 * qdev_print_props; hw/core/sysbus.c sysbus_dev_print; hw/pci/pci.c pcibus_dev_print):
 * two spaces of indent per level, `bus: NAME` / `type TYPE`, `dev: TYPE, id "ID"`,
 * `gpio-in "NAME" N`, `PROP = VALUE`, `mmio %016x/%016x`, and the PCI class/address line
 * followed by `bar N: i/o|mem at 0x… [0x…]`.
 */
import type { QtreeBus, QtreeDevice, QtreeValue } from '../machine/qtree.js';

function value(v: QtreeValue): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return `"${v}"`;
  if (typeof v === 'object') return v.raw;
  const b = BigInt(v);
  return `${b} (0x${BigInt.asUintN(64, b).toString(16)})`;
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

function device(d: QtreeDevice, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  out.push(`${pad}dev: ${d.type}, id "${d.id}"`);
  const p = pad + '  ';
  for (const [name, n] of d.gpioIn ?? []) out.push(`${p}gpio-in "${name}" ${n}`);
  for (const [name, n] of d.gpioOut ?? []) out.push(`${p}gpio-out "${name}" ${n}`);
  for (const [name, v] of d.props) out.push(`${p}${name} = ${value(v)}`);
  for (const [base, size] of d.mmio ?? []) out.push(`${p}mmio ${hex(base, 16)}/${hex(size, 16)}`);
  if (d.pci) {
    const c = d.pci;
    out.push(`${p}class ${c.className}, addr 00:${hex(c.slot, 2)}.${c.function}, pci id ${hex(c.vendorId, 4)}:${hex(c.deviceId, 4)} (sub ${hex(c.subVendorId, 4)}:${hex(c.subId, 4)})`);
    for (const b of c.bars) {
      // An unmapped BAR prints QEMU's PCI_BAR_UNMAPPED (all ones); the end wraps as in C.
      const start = b.address >= 0 ? BigInt(b.address) : 0xffffffffffffffffn;
      const end = BigInt.asUintN(64, start + BigInt(b.size) - 1n);
      out.push(`${p}bar ${b.bar}: ${b.io ? 'i/o' : 'mem'} at 0x${start.toString(16)} [0x${end.toString(16)}]`);
    }
  }
  for (const child of d.buses) bus(child, indent + 2, out);
}

function bus(b: QtreeBus, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  out.push(`${pad}bus: ${b.name}`);
  out.push(`${pad}  type ${b.type}`);
  for (const d of b.devices) device(d, indent + 2, out);
}

/** The text of `info qtree` (lines joined with "\n"). */
export function formatInfoQtree(root: QtreeBus): string {
  const out: string[] = [];
  bus(root, 0, out);
  return out.join('\n');
}
