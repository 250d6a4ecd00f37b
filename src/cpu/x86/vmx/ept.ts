/**
 * Extended page tables (SDM Vol. 3C 29.3): guest-physical → host-physical translation with a
 * 4-level walk, 2 MiB and 1 GiB pages, the EPT accessed and dirty flags (EPTP bit 6), EPT
 * violations (exit reason 48) and EPT misconfigurations (exit reason 49).
 *
 * The MMU uses an `Ept` while the CPU runs in VMX non-root operation with "enable EPT": guest
 * paging-structure entries are read and written through it (the PagingMemory interface), and
 * every final guest-physical address is translated before it enters the TLB, together with
 * the EPT rights, so that a TLB hit never bypasses EPT. The TLB is flushed on every VM entry
 * and VM exit, which keeps INVEPT and VPIDs trivially correct.
 *
 * Not implemented (not advertised in IA32_VMX_EPT_VPID_CAP): execute-only translations,
 * mode-based execute control, #VE, advanced exit information, 5-level EPT.
 */
import type { PhysicalMemory } from '../../../memory/physical-memory.js';
import { Access, type PagingMemory } from '../paging.js';
import { MAXPHYADDR } from '../cpu-model.js';
import { physRead32, physWrite32 } from './vmx-memory.js';

export const enum EptExit { Violation = 48, Misconfig = 49 }

/** EPT entry bits. */
const enum E { R = 1, W = 2, X = 4, LARGE = 1 << 7, ACCESSED = 1 << 8, DIRTY = 1 << 9 }

/** High-dword bits 51:MAXPHYADDR: reserved in every entry and in the EPTP. */
const HI_RSVD = (0x000fffff & ~((1 << (MAXPHYADDR - 32)) - 1)) >>> 0;
const HI_ADDR = (1 << (MAXPHYADDR - 32)) - 1;
const TWO_32 = 4294967296;

/** What an EPT-induced VM exit reports (read by the exit code). */
export interface EptFault {
  reason: EptExit;
  gpa: number;
  qualification: number;
  linear: number;
}

/**
 * Whether `lo:hi` is a valid EPTP for this implementation (SDM 26.2.1.1): memory type UC (0)
 * or WB (6), page-walk length 4 (bits 5:3 = 3), A/D only as advertised (it is), bits 11:7 and
 * 63:MAXPHYADDR zero.
 */
export function validEptp(lo: number, hi: number): boolean {
  const type = lo & 7;
  if (type !== 0 && type !== 6) return false;
  if (((lo >>> 3) & 7) !== 3) return false;
  if (lo & 0xf80) return false;
  return (hi & ~HI_ADDR) === 0;
}

export class Ept implements PagingMemory {
  /** PML4 table address. */
  private pml4 = 0;
  private ad = false;
  /** Rights of the last successful translation: 1 read, 2 write (and dirty when A/D is on), 4 execute. */
  lastRights = 0;
  /** The linear address being translated by the MMU, or -1 (e.g. PDPTE loads at MOV to CR3). */
  linear = -1;
  readonly fault: EptFault = { reason: EptExit.Violation, gpa: 0, qualification: 0, linear: 0 };
  private readonly visitedAddr = new Float64Array(4);
  private readonly visitedLo = new Uint32Array(4);

  /**
   * `onFault` performs the VM exit for `fault` and unwinds the instruction (it never returns).
   */
  constructor(private readonly mem: PhysicalMemory, private readonly onFault: (f: EptFault) => never) {}

  /** Takes the EPTP (already validated by the VM-entry checks). */
  configure(lo: number, hi: number): void {
    this.pml4 = (hi & HI_ADDR) * TWO_32 + ((lo & 0xfffff000) >>> 0);
    this.ad = (lo & 0x40) !== 0;
    this.linear = -1;
  }

  /** PagingMemory: guest paging-structure reads go through EPT (as writes when A/D is on). */
  read(addr: number, _size: 4): number {
    const hpa = this.translate(addr, this.ad ? Access.Write : Access.Read, false);
    return physRead32(this.mem, hpa);
  }

  write(addr: number, _size: 4, value: number): void {
    const hpa = this.translate(addr, Access.Write, false);
    physWrite32(this.mem, hpa, value);
  }

  /**
   * Host-physical address of guest-physical `gpa` for `access`. `final` is true for the
   * translation of the linear address itself, false for a guest paging-structure access.
   */
  translate(gpa: number, access: Access, final: boolean): number {
    const mem = this.mem;
    let base = this.pml4;
    let rights = 7;
    let n = 0;
    for (let level = 4; level >= 1; level--) {
      const shift = 12 + 9 * (level - 1);
      const ea = base + (Math.floor(gpa / 2 ** shift) % 512) * 8;
      const lo = physRead32(mem, ea);
      const hi = physRead32(mem, ea + 4);
      const perm = lo & 7;
      if (perm === 0) return this.violation(gpa, access, 0, final);
      const leaf = level === 1 || ((lo & E.LARGE) !== 0 && level <= 3);
      if (misconfigured(lo, hi, level, leaf)) return this.misconfig(gpa);
      rights &= perm;
      this.visitedAddr[n] = ea;
      this.visitedLo[n] = lo;
      n++;
      const addr = (hi & HI_ADDR) * TWO_32 + ((lo & 0xfffff000) >>> 0);
      if (leaf) {
        const pageSize = 2 ** shift;
        const frame = addr - (addr % pageSize) + (gpa % pageSize);
        const need = access === Access.Read ? E.R : access === Access.Write ? E.W : E.X;
        if (!(rights & need)) return this.violation(gpa, access, rights, final);
        let dirty = (lo & E.DIRTY) !== 0;
        if (this.ad) {
          for (let i = 0; i < n; i++) {
            const e = this.visitedLo[i]!;
            let ne = e | E.ACCESSED;
            if (i === n - 1 && access === Access.Write) ne |= E.DIRTY;
            if (ne !== e) physWrite32(mem, this.visitedAddr[i]!, ne);
          }
          if (access === Access.Write) dirty = true;
        }
        this.lastRights = (rights & (E.R | E.X)) | ((rights & E.W) && (!this.ad || dirty) ? E.W : 0);
        return frame;
      }
      base = addr;
    }
    return this.misconfig(gpa); // not reached: level 1 is always a leaf
  }

  private violation(gpa: number, access: Access, rights: number, final: boolean): never {
    const f = this.fault;
    f.reason = EptExit.Violation;
    f.gpa = gpa;
    // Qualification (SDM Table 28-7): access kind, the rights of the walk so far, and whether
    // a linear address is known and was the final translation or a paging-structure access.
    let q = access === Access.Read ? 1 : access === Access.Write ? 2 : 4;
    q |= (rights & 7) << 3;
    if (this.linear >= 0) {
      q |= 1 << 7;
      if (final) q |= 1 << 8;
    }
    f.qualification = q;
    f.linear = this.linear >= 0 ? this.linear : 0;
    return this.onFault(f);
  }

  private misconfig(gpa: number): never {
    const f = this.fault;
    f.reason = EptExit.Misconfig;
    f.gpa = gpa;
    f.qualification = 0;
    f.linear = 0;
    return this.onFault(f);
  }
}

/** SDM 29.3.3.1: the entry conditions that make an EPT misconfiguration. */
function misconfigured(lo: number, hi: number, level: number, leaf: boolean): boolean {
  const perm = lo & 7;
  if ((perm & 3) === E.W) return true; // write without read
  if (perm === E.X) return true; // execute-only is not supported
  if (hi & HI_RSVD) return true;
  if (!leaf) return (lo & 0xf8) !== 0; // bits 7:3 reserved in PML4Es and non-leaf entries
  const type = (lo >>> 3) & 7;
  if (type === 2 || type === 3 || type === 7) return true;
  if (level === 3) return (lo & 0x3ffff000) !== 0; // 1 GiB page: bits 29:12 reserved
  if (level === 2) return (lo & 0x001ff000) !== 0; // 2 MiB page: bits 20:12 reserved
  return false;
}
