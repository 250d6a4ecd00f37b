/**
 * HMP `x /Ni` and `xp /Ni`: disassembly laid out as QEMU 7.2 prints it through capstone
 * (disas/capstone.c cap_dump_insn, split 8 on x86): `0x%08x: ` then the first 8 bytes as
 * ` %02x`, padding to 8 bytes, `  %-8s %s` (mnemonic, operands); an instruction longer than 8
 * bytes continues on a line of its remaining bytes. Bytes that are not an instruction print
 * as capstone's SKIPDATA does, one `.byte 0xNN` at a time.
 *
 * The mode is QEMU's (monitor/hmp-cmds-target.c memory_dump): size `h` 16-bit, `w` 32-bit,
 * otherwise from the CPU (64-bit when EFER.LMA and CS.L, 16-bit when CS.D is clear).
 */
import { decodeInstruction } from './decoder.js';
import { formatAtt } from './att-syntax.js';
import { Mode } from './operands.js';

export { Mode };

/** capstone's instruction split for x86: bytes shown on the first line. */
const SPLIT = 8;
const MAX_INSN = 15;

/** One instruction's text as capstone gives it, and its length. */
export function disassembleOne(bytes: Uint8Array, addr: bigint, mode: Mode): { length: number; mnemonic: string; operands: string } {
  const insn = decodeInstruction(bytes, addr, mode);
  if (insn.bad) return { length: 1, mnemonic: '.byte', operands: `0x${(bytes[0] ?? 0).toString(16).padStart(2, '0')}` };
  return { length: insn.length, ...formatAtt(insn, insn.absWidth ?? (mode === Mode.Long64 ? 64 : mode)) };
}

const hex8 = (v: bigint) => v.toString(16).padStart(8, '0');

/**
 * `count` instructions from `addr` in QEMU's layout. `read(addr, len)` returns guest bytes or
 * undefined; a read that fails at the first byte ends the listing with QEMU's
 * `0x…: unable to read memory`.
 */
export function disassembleListing(addr: bigint, count: number, mode: Mode, read: (addr: bigint, len: number) => Uint8Array | undefined): string {
  const lines: string[] = [];
  let pc = BigInt.asUintN(64, addr);
  for (let n = 0; n < count && lines.length < 1 << 16; n++) {
    let bytes: Uint8Array | undefined;
    // Read as much of the next 15 bytes as exists (an instruction may end before a hole).
    for (let len = MAX_INSN; len > 0 && !bytes; len--) bytes = read(pc, len);
    if (!bytes) {
      lines.push(`0x${hex8(pc)}: unable to read memory`);
      break;
    }
    let one = disassembleOne(bytes, pc, mode);
    if (one.length > bytes.length) one = disassembleOne(bytes.subarray(0, 1), pc, mode);
    const shown = bytes.subarray(0, one.length);
    let line = `0x${hex8(pc)}: `;
    for (let i = 0; i < Math.min(shown.length, SPLIT); i++) line += ` ${shown[i]!.toString(16).padStart(2, '0')}`;
    if (shown.length < SPLIT) line += ' '.repeat((SPLIT - shown.length) * 3);
    line += `  ${one.mnemonic.padEnd(8)} ${one.operands}`;
    lines.push(line);
    for (let i = SPLIT; i < shown.length; i += SPLIT) {
      let more = `0x${hex8(BigInt.asUintN(64, pc + BigInt(i)))}: `;
      for (let k = i; k < Math.min(shown.length, i + SPLIT); k++) more += ` ${shown[k]!.toString(16).padStart(2, '0')}`;
      lines.push(more);
    }
    pc = BigInt.asUintN(64, pc + BigInt(one.length));
  }
  return lines.join('\n');
}
