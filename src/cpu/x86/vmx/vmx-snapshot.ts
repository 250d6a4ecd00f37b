/**
 * VMX state in CPU snapshots (CPU state version 5): VMX operation, the VMXON and current-VMCS
 * pointers, the cached VMCSs (their contents may be newer than the regions in RAM) and, in
 * non-root operation, what the run loop needs (host NMI blocking, the preemption timer's
 * remaining ticks, the event being delivered). Loading validates everything before any change.
 */
import { SnapshotError } from '../../../errors.js';
import { expectBool, expectInt, expectIntArray, expectNumber, expectRecord } from '../../../snapshot/validate.js';
import type { X86Cpu } from '../cpu.js';
import { Vmcs, VMCS_FIELDS, F } from './vmcs-fields.js';
import { NO_VMCS, type VmxUnit } from './vmx-unit.js';
import { Proc, Proc2 } from './vmx-capabilities.js';
import { vmxIntercept } from './vmx-intercepts.js';

export interface VmxStateData {
  inVmx: boolean;
  nonRoot: boolean;
  vmxonPtr: number;
  currentPtr: number;
  hostNmiBlocked: boolean;
  /** TSC ticks until the VMX-preemption timer expires. */
  preemptionLeft: number;
  vectoringInfo: number;
  vectoringError: number;
  pfLinear: number;
  /** A latched INIT (absent in older streams: none). */
  initPending?: boolean;
  cache: { addr: number; launched: boolean; lo: number[]; hi: number[] }[];
}

const U32 = 0xffffffff;
const ADDR_MAX = 2 ** 52;

export function saveVmxState(vmx: VmxUnit): VmxStateData {
  return {
    inVmx: vmx.inVmx,
    nonRoot: vmx.nonRoot,
    vmxonPtr: vmx.vmxonPtr,
    currentPtr: vmx.currentPtr,
    hostNmiBlocked: vmx.hostNmiBlocked,
    preemptionLeft: Math.max(0, vmx.preemptionDeadline - vmx.cpu.tscNow(0)),
    vectoringInfo: vmx.vectoringInfo,
    vectoringError: vmx.vectoringError,
    pfLinear: vmx.pfLinear,
    initPending: vmx.initPending,
    cache: [...vmx.cache].map(([addr, v]) => ({ addr, launched: v.launched, lo: Array.from(v.lo), hi: Array.from(v.hi) })),
  };
}

/**
 * Validates the `vmx` part of CPU state `data` and returns the function that applies it
 * (after the rest of the CPU state is loaded). Streams older than version 5, or without VMX
 * state, leave VMX operation.
 */
export function loadVmxState(cpu: X86Cpu, data: unknown, version: number): () => void {
  const vmx = cpu.vmx;
  const raw = version >= 5 && typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['vmx'] : undefined;
  if (raw === undefined) return () => vmx?.reset();
  if (!vmx) throw new SnapshotError('cpu.vmx: VMX state for a CPU model without VMX');
  const w = 'cpu.vmx';
  const r = expectRecord(raw, w);
  const d = {
    inVmx: expectBool(r, 'inVmx', w),
    nonRoot: expectBool(r, 'nonRoot', w),
    vmxonPtr: expectInt(r, 'vmxonPtr', 0, ADDR_MAX, w),
    currentPtr: expectInt(r, 'currentPtr', -1, ADDR_MAX, w),
    hostNmiBlocked: expectBool(r, 'hostNmiBlocked', w),
    preemptionLeft: expectNumber(r, 'preemptionLeft', 0, 2 ** 40, w),
    vectoringInfo: expectInt(r, 'vectoringInfo', 0, U32, w),
    vectoringError: expectInt(r, 'vectoringError', 0, U32, w),
    pfLinear: expectInt(r, 'pfLinear', 0, 2 ** 48, w),
    initPending: r['initPending'] === undefined ? false : expectBool(r, 'initPending', w),
  };
  const list = r['cache'];
  if (!Array.isArray(list) || list.length > 16) throw new SnapshotError(`${w}: cache must be an array of at most 16 VMCSs`);
  const cache = list.map((e, i) => {
    const c = expectRecord(e, `${w}.cache[${i}]`);
    const v = new Vmcs();
    v.lo.set(expectIntArray(c, 'lo', 0, U32, VMCS_FIELDS.length, w));
    v.hi.set(expectIntArray(c, 'hi', 0, U32, VMCS_FIELDS.length, w));
    v.launched = expectBool(c, 'launched', w);
    return [expectInt(c, 'addr', 0, ADDR_MAX, w), v] as const;
  });
  const current = cache.find(([a]) => a === d.currentPtr)?.[1];
  if (d.currentPtr !== NO_VMCS && !current) throw new SnapshotError(`${w}: the current VMCS is not cached`);
  if ((d.nonRoot && (!d.inVmx || !current)) || (!d.inVmx && d.currentPtr !== NO_VMCS)) {
    throw new SnapshotError(`${w}: inconsistent VMX operation state`);
  }
  return () => {
    vmx.reset();
    vmx.inVmx = d.inVmx;
    vmx.vmxonPtr = d.vmxonPtr;
    for (const [a, v] of cache) vmx.cache.set(a, v);
    vmx.currentPtr = d.currentPtr;
    vmx.vmcs = current;
    vmx.hostNmiBlocked = d.hostNmiBlocked;
    vmx.pfLinear = d.pfLinear;
    vmx.initPending = d.initPending && d.inVmx;
    if (d.nonRoot) {
      const v = current!;
      vmx.nonRoot = true;
      cpu.vmxNonRoot = true;
      cpu.intercept = vmxIntercept;
      if ((v.get(F.PROC_CONTROLS) & Proc.SECONDARY) && (v.get(F.PROC_CONTROLS2) & Proc2.EPT)) {
        vmx.ept.configure(v.get(F.EPT_POINTER), v.getHi(F.EPT_POINTER));
        cpu.mmu.ept = vmx.ept;
      }
      vmx.preemptionDeadline = cpu.tscNow(0) + d.preemptionLeft;
      vmx.vectoringInfo = d.vectoringInfo;
      vmx.vectoringError = d.vectoringError;
    }
  };
}
