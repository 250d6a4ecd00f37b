/**
 * The registers gdb sees, for its two x86 architectures, and the target descriptions
 * (GDB manual, "Target Descriptions" G.5.13 i386 Features) that announce them.
 *
 * Both layouts have gdb's required features — `org.gnu.gdb.i386.core` (general registers,
 * EIP/RIP, EFLAGS, the six selectors, the x87 stack and its control registers) and
 * `org.gnu.gdb.i386.sse` (XMM registers, MXCSR) — plus `org.gnu.gdb.i386.segments` (FS/GS
 * bases, x86-64 only) and a system feature of our own with CR0, CR2, CR3, CR4 and EFER.
 * The g packet carries them in description order, little-endian.
 *
 * Which layout a session uses is decided when gdb reads the description (see gdb-session.ts).
 * In the x86-64 layout outside 64-bit mode the general registers and RIP are their low 32
 * bits zero-extended, as QEMU's x86_cpu_gdb_read_register reports them; writes then change
 * only the low halves.
 *
 * Not writable (a write that changes them fails with E22): selectors in protected mode (a
 * descriptor load would be needed), CR0-CR4 and EFER. In real and virtual-8086 mode a
 * selector write sets the base to selector × 16 as a real-mode load does.
 */
import type { X86Cpu } from '../cpu/x86/cpu.js';
import { SegReg } from '../cpu/x86/state.js';

export type GdbArch = 'i386' | 'x86-64';

interface RegisterDef {
  readonly name: string;
  readonly bits: number;
  readonly type: string;
  readonly group?: string;
  readonly feature: 'core' | 'sse' | 'segments' | 'sys';
  /** Reads the value as little-endian bytes into `out`. */
  read(cpu: X86Cpu, out: DataView): void;
  /** Writes it; returns false when the register cannot take this value. */
  write(cpu: X86Cpu, bytes: DataView): boolean;
}

const I386_GPRS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** gdb's amd64 order and our register numbers (RAX=0, RCX=1, RDX=2, RBX=3, RSP=4, …). */
const AMD64_GPRS: [string, number][] = [
  ['rax', 0], ['rbx', 3], ['rcx', 1], ['rdx', 2], ['rsi', 6], ['rdi', 7], ['rbp', 5], ['rsp', 4],
  ['r8', 8], ['r9', 9], ['r10', 10], ['r11', 11], ['r12', 12], ['r13', 13], ['r14', 14], ['r15', 15],
];
const SEGMENTS: [string, SegReg][] = [['cs', SegReg.CS], ['ss', SegReg.SS], ['ds', SegReg.DS], ['es', SegReg.ES], ['fs', SegReg.FS], ['gs', SegReg.GS]];

function u32(read: (cpu: X86Cpu) => number, write?: (cpu: X86Cpu, v: number) => boolean) {
  return {
    read: (cpu: X86Cpu, out: DataView) => out.setUint32(0, read(cpu) >>> 0, true),
    write: (cpu: X86Cpu, b: DataView) => (write ? write(cpu, b.getUint32(0, true)) : b.getUint32(0, true) === read(cpu) >>> 0),
  };
}

/** A 64-bit register from (low, high) halves. */
function u64(read: (cpu: X86Cpu) => [number, number], write?: (cpu: X86Cpu, lo: number, hi: number) => boolean) {
  return {
    read: (cpu: X86Cpu, out: DataView) => {
      const [lo, hi] = read(cpu);
      out.setUint32(0, lo >>> 0, true);
      out.setUint32(4, hi >>> 0, true);
    },
    write: (cpu: X86Cpu, b: DataView) => {
      const lo = b.getUint32(0, true);
      const hi = b.getUint32(4, true);
      if (write) return write(cpu, lo, hi);
      const [l, h] = read(cpu);
      return lo === l >>> 0 && hi === h >>> 0;
    },
  };
}

/** A signed 64-bit number (segment bases, RIP) as halves. */
function halves(v: number): [number, number] {
  return [v >>> 0, Math.floor(v / 4294967296) >>> 0];
}

function segmentDefs(): RegisterDef[] {
  return SEGMENTS.map(([name, seg]) => ({
    name, bits: 32, type: 'int32', feature: 'core',
    ...u32((cpu) => cpu.s.segSel[seg]!, (cpu, v) => {
      if (v === cpu.s.segSel[seg]) return true;
      if (cpu.protectedMode || v > 0xffff) return false;
      cpu.s.segSel[seg] = v;
      cpu.s.segBase[seg] = v * 16;
      cpu.updateMode();
      return true;
    }),
  }));
}

function x87Defs(): RegisterDef[] {
  const defs: RegisterDef[] = [];
  for (let i = 0; i < 8; i++) {
    defs.push({
      name: `st${i}`, bits: 80, type: 'i387_ext', feature: 'core',
      read(cpu, out) {
        const f = cpu.fpu;
        const r = (f.top + i) & 7;
        out.setUint32(0, f.mant[2 * r]!, true);
        out.setUint32(4, f.mant[2 * r + 1]!, true);
        out.setUint16(8, f.exp[r]!, true);
      },
      write(cpu, b) {
        const f = cpu.fpu;
        const r = (f.top + i) & 7;
        f.mant[2 * r] = b.getUint32(0, true);
        f.mant[2 * r + 1] = b.getUint32(4, true);
        f.exp[r] = b.getUint16(8, true);
        return true;
      },
    });
  }
  const fpu = (name: string, read: (cpu: X86Cpu) => number, write: (cpu: X86Cpu, v: number) => void): RegisterDef => ({
    name, bits: 32, type: 'int', group: 'float', feature: 'core',
    ...u32(read, (cpu, v) => (write(cpu, v), true)),
  });
  defs.push(
    fpu('fctrl', (c) => c.fpu.fcw, (c, v) => (c.fpu.fcw = v & 0xffff)),
    fpu('fstat', (c) => c.fpu.statusWord(), (c, v) => {
      c.fpu.fsw = v & 0xffff & ~0x3800;
      c.fpu.top = (v >> 11) & 7;
    }),
    fpu('ftag', (c) => c.fpu.ftw, (c, v) => (c.fpu.ftw = v & 0xffff)),
    fpu('fiseg', (c) => c.fpu.fcs, (c, v) => (c.fpu.fcs = v & 0xffff)),
    fpu('fioff', (c) => c.fpu.fip, (c, v) => (c.fpu.fip = v)),
    fpu('foseg', (c) => c.fpu.fds, (c, v) => (c.fpu.fds = v & 0xffff)),
    fpu('fooff', (c) => c.fpu.fdp, (c, v) => (c.fpu.fdp = v)),
    fpu('fop', (c) => c.fpu.fop, (c, v) => (c.fpu.fop = v & 0x7ff)),
  );
  return defs;
}

function sseDefs(count: number): RegisterDef[] {
  const defs: RegisterDef[] = [];
  for (let i = 0; i < count; i++) {
    defs.push({
      name: `xmm${i}`, bits: 128, type: 'vec128', feature: 'sse',
      read(cpu, out) {
        for (let k = 0; k < 16; k++) out.setUint8(k, cpu.sse.u8[16 * i + k]!);
      },
      write(cpu, b) {
        for (let k = 0; k < 16; k++) cpu.sse.u8[16 * i + k] = b.getUint8(k);
        return true;
      },
    });
  }
  defs.push({
    name: 'mxcsr', bits: 32, type: 'i386_mxcsr', group: 'vector', feature: 'sse',
    // Reserved bits 16-31 must be zero (LDMXCSR would #GP).
    ...u32((c) => c.sse.mxcsr, (c, v) => (v >>> 16 === 0 ? ((c.sse.mxcsr = v), true) : false)),
  });
  return defs;
}

function sysDefs(bits: 32 | 64): RegisterDef[] {
  const reg = (name: string, read: (cpu: X86Cpu) => number): RegisterDef =>
    bits === 32
      ? { name, bits, type: 'int32', group: 'system', feature: 'sys', ...u32(read) }
      : { name, bits, type: 'int64', group: 'system', feature: 'sys', ...u64((c) => [read(c), 0]) };
  return [reg('cr0', (c) => c.s.cr0), reg('cr2', (c) => c.s.cr2), reg('cr3', (c) => c.s.cr3), reg('cr4', (c) => c.s.cr4), reg('efer', (c) => c.s.efer)];
}

function i386Defs(): RegisterDef[] {
  return [
    ...I386_GPRS.map((name, r): RegisterDef => ({
      name, bits: 32, type: r === 4 || r === 5 ? 'data_ptr' : 'int32', feature: 'core',
      ...u32((c) => c.s.gpr[r]!, (c, v) => ((c.s.gpr[r] = v), true)),
    })),
    { name: 'eip', bits: 32, type: 'code_ptr', feature: 'core', ...u32((c) => c.s.eip, (c, v) => ((c.s.eip = v), true)) },
    { name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core', ...u32((c) => c.getEflags(), (c, v) => (c.setEflags(v), true)) },
    ...segmentDefs(),
    ...x87Defs(),
    ...sseDefs(8),
    ...sysDefs(32),
  ];
}

function amd64Defs(): RegisterDef[] {
  return [
    ...AMD64_GPRS.map(([name, r]): RegisterDef => ({
      name, bits: 64, type: r === 4 || r === 5 ? 'data_ptr' : 'int64', feature: 'core',
      ...u64(
        (c) => [c.s.gpr[r]!, c.mode64 ? c.s.gprHi[r]! : 0],
        (c, lo, hi) => {
          c.s.gpr[r] = lo;
          if (c.mode64) c.s.gprHi[r] = hi;
          return true;
        },
      ),
    })),
    {
      name: 'rip', bits: 64, type: 'code_ptr', feature: 'core',
      ...u64(
        (c) => [c.s.eip, c.mode64 ? c.s.ripHi : 0],
        (c, lo, hi) => {
          c.s.eip = lo;
          if (c.mode64) c.s.ripHi = hi | 0;
          return true;
        },
      ),
    },
    { name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core', ...u32((c) => c.getEflags(), (c, v) => (c.setEflags(v), true)) },
    ...segmentDefs(),
    ...x87Defs(),
    ...sseDefs(16),
    ...(['fs_base', 'gs_base'] as const).map((name): RegisterDef => {
      const seg = name === 'fs_base' ? SegReg.FS : SegReg.GS;
      return {
        name, bits: 64, type: 'int', feature: 'segments',
        ...u64((c) => halves(c.s.segBase[seg]!), (c, lo, hi) => {
          // Bases are kept as signed numbers, exact for canonical addresses.
          const v = (hi | 0) * 4294967296 + lo;
          if (v < -(2 ** 47) || v >= 2 ** 47) return false;
          c.s.segBase[seg] = v;
          return true;
        }),
      };
    }),
    ...sysDefs(64),
  ];
}

/** One architecture's register file: definitions, byte offsets and the target description. */
export class GdbRegisterFile {
  readonly defs: readonly RegisterDef[];
  readonly offsets: readonly number[];
  readonly totalBytes: number;
  readonly targetXml: string;

  constructor(readonly arch: GdbArch) {
    this.defs = arch === 'i386' ? i386Defs() : amd64Defs();
    const offsets: number[] = [];
    let off = 0;
    for (const d of this.defs) {
      offsets.push(off);
      off += d.bits / 8;
    }
    this.offsets = offsets;
    this.totalBytes = off;
    this.targetXml = targetDescription(arch, this.defs);
  }

  /** All registers, as the `g` reply's bytes. */
  readAll(cpu: X86Cpu): Uint8Array {
    const out = new Uint8Array(this.totalBytes);
    this.defs.forEach((d, i) => d.read(cpu, new DataView(out.buffer, this.offsets[i], d.bits / 8)));
    return out;
  }

  /** Register `n`'s bytes (`p`), or undefined when there is no such register. */
  read(cpu: X86Cpu, n: number): Uint8Array | undefined {
    const d = this.defs[n];
    if (!d) return undefined;
    const out = new Uint8Array(d.bits / 8);
    d.read(cpu, new DataView(out.buffer));
    return out;
  }

  /** `P n=value`: false when the register does not exist, the size is wrong, or it refuses. */
  write(cpu: X86Cpu, n: number, bytes: Uint8Array): boolean {
    const d = this.defs[n];
    if (!d || bytes.length !== d.bits / 8) return false;
    const ok = d.write(cpu, new DataView(bytes.buffer, bytes.byteOffset, bytes.length));
    cpu.invalidateFetch();
    return ok;
  }

  /**
   * `G`: writes every register, or none if any would refuse (gdb sends the whole file back
   * after changing one, so unchanged read-only registers must pass).
   */
  writeAll(cpu: X86Cpu, bytes: Uint8Array): boolean {
    if (bytes.length !== this.totalBytes) return false;
    // Check first against a copy of what is there: a refused value must not leave half a write.
    const current = this.readAll(cpu);
    for (let i = 0; i < this.defs.length; i++) {
      const d = this.defs[i]!;
      const o = this.offsets[i]!;
      const n = d.bits / 8;
      let same = true;
      for (let k = 0; k < n; k++) if (current[o + k] !== bytes[o + k]) same = false;
      if (!same && !this.writableValue(cpu, d, bytes.subarray(o, o + n))) return false;
    }
    for (let i = 0; i < this.defs.length; i++) {
      const o = this.offsets[i]!;
      const n = this.defs[i]!.bits / 8;
      let same = true;
      for (let k = 0; k < n; k++) if (current[o + k] !== bytes[o + k]) same = false;
      if (!same) this.defs[i]!.write(cpu, new DataView(bytes.buffer, bytes.byteOffset + o, n));
    }
    cpu.invalidateFetch();
    return true;
  }

  /** Whether `d` would take `value` (without writing it). */
  private writableValue(cpu: X86Cpu, d: RegisterDef, value: Uint8Array): boolean {
    const dv = new DataView(value.buffer, value.byteOffset, value.length);
    if (d.feature === 'sys') return false;
    if (SEGMENTS.some(([name]) => name === d.name)) return !cpu.protectedMode && dv.getUint32(0, true) <= 0xffff;
    if (d.name === 'mxcsr') return dv.getUint32(0, true) >>> 16 === 0;
    if (d.name === 'fs_base' || d.name === 'gs_base') {
      const v = (dv.getInt32(4, true)) * 4294967296 + dv.getUint32(0, true);
      return v >= -(2 ** 47) && v < 2 ** 47;
    }
    return true;
  }

  /** The number of the register gdb treats as the PC (`eip`/`rip`), for stop replies. */
  get pcRegnum(): number {
    return this.defs.findIndex((d) => d.name === 'eip' || d.name === 'rip');
  }
}

const EFLAGS_TYPE = `<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/>
<field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/>
<field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/>
<field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/>
</flags>`;

const SSE_TYPES = `<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128">
<field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>
<field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
<field name="uint128" type="uint128"/>
</union>
<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/>
<field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/>
<field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
</flags>`;

const FEATURES: Record<RegisterDef['feature'], [string, string]> = {
  core: ['org.gnu.gdb.i386.core', EFLAGS_TYPE],
  sse: ['org.gnu.gdb.i386.sse', SSE_TYPES],
  segments: ['org.gnu.gdb.i386.segments', ''],
  sys: ['org.pcvm.gdb.i386.sys', ''],
};

function targetDescription(arch: GdbArch, defs: readonly RegisterDef[]): string {
  const lines = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    `<architecture>${arch === 'i386' ? 'i386' : 'i386:x86-64'}</architecture>`,
  ];
  for (const feature of ['core', 'sse', 'segments', 'sys'] as const) {
    const regs = defs.map((d, n) => ({ d, n })).filter(({ d }) => d.feature === feature);
    if (regs.length === 0) continue;
    const [name, types] = FEATURES[feature];
    lines.push(`<feature name="${name}">`);
    if (types) lines.push(types);
    for (const { d, n } of regs) {
      lines.push(`<reg name="${d.name}" bitsize="${d.bits}" type="${d.type}" regnum="${n}"${d.group ? ` group="${d.group}"` : ''}/>`);
    }
    lines.push('</feature>');
  }
  lines.push('</target>');
  return lines.join('\n');
}
