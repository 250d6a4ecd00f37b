/**
 * A small encoder for ACPI Machine Language: the subset the board's DSDT needs. Each
 * function returns the bytes of one AML term; terms nest by passing byte arrays.
 *
 * Reference: ACPI Specification 6.5, chapter 20 (AML grammar: 20.2.2 name objects, 20.2.3
 * data objects, 20.2.4 package length, 20.2.5 term objects) and 6.4 (resource descriptors:
 * 6.4.2 small — IRQ, I/O, End Tag; 6.4.3 large — address space descriptors, Extended
 * Interrupt), 19.6.43 EISAID.
 *
 * Integers are encoded in the shortest form (ZeroOp, OneOp, BytePrefix, WordPrefix,
 * DWordPrefix, QWordPrefix), as iasl does. Name strings take ASL path syntax: `\_SB.PCI0`,
 * `^PX13.P13C`, `_S5`; short segments are padded with `_`.
 */

/** AML bytes. */
export type Aml = readonly number[];

/** Thrown for a malformed name or an out-of-range operand: a bug in the table builder. */
export class AmlError extends Error {
  override readonly name = 'AmlError';
}

// --- Opcodes (ACPI 6.5 20.3) ---------------------------------------------------------------
const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const VAR_PACKAGE_OP = 0x13;
const METHOD_OP = 0x14;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const EXT_OP_PREFIX = 0x5b;
const ROOT_CHAR = 0x5c;
const PARENT_PREFIX_CHAR = 0x5e;
const LOCAL0_OP = 0x60;
const ARG0_OP = 0x68;
const STORE_OP = 0x70;
const AND_OP = 0x7b;
const OR_OP = 0x7d;
const CREATE_DWORD_FIELD_OP = 0x8a;
const LEQUAL_OP = 0x93;
const LLESS_OP = 0x95;
const IF_OP = 0xa0;
const ELSE_OP = 0xa1;
const RETURN_OP = 0xa4;
// Extended (0x5B-prefixed) opcodes.
const OP_REGION_OP = 0x80;
const FIELD_OP = 0x81;
const DEVICE_OP = 0x82;

/** Concatenates terms. */
export function cat(...parts: Aml[]): number[] {
  const out: number[] = [];
  for (const p of parts) for (const b of p) out.push(b);
  return out;
}

// --- Package length (20.2.4) -----------------------------------------------------------------

/**
 * PkgLength for `contentBytes` of content that follows it: the encoded length counts the
 * PkgLength bytes themselves. One byte up to 63; otherwise bits 7:6 give the number of
 * extra bytes, bits 3:0 the low nibble, and the extra bytes the rest.
 */
export function pkgLength(contentBytes: number): number[] {
  for (let n = 1; n <= 4; n++) {
    const total = contentBytes + n;
    const max = n === 1 ? 0x3f : 2 ** (4 + 8 * (n - 1)) - 1;
    if (total <= max) return encodeLength(total, n);
  }
  throw new AmlError(`package of ${contentBytes} bytes is too long for PkgLength`);
}

/** A length in PkgLength form without counting itself (field element widths, 20.2.5.2). */
export function rawLength(value: number): number[] {
  if (value <= 0x3f) return [value];
  for (let n = 2; n <= 4; n++) if (value <= 2 ** (4 + 8 * (n - 1)) - 1) return encodeLength(value, n);
  throw new AmlError(`length ${value} is too long`);
}

function encodeLength(value: number, n: number): number[] {
  if (n === 1) return [value];
  const out = [((n - 1) << 6) | (value & 0x0f)];
  for (let i = 0; i < n - 1; i++) out.push(Math.floor(value / 2 ** (4 + 8 * i)) & 0xff);
  return out;
}

/** `op` PkgLength `content` (the shape of every variable-length term). */
function withPkg(op: number[], content: Aml): number[] {
  return cat(op, pkgLength(content.length), content);
}

// --- Names (20.2.2) --------------------------------------------------------------------------

/** One NameSeg: four characters, a leading letter or `_`, padded with `_`. */
export function nameSeg(seg: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new AmlError(`bad AML name segment '${seg}'`);
  const s = seg.padEnd(4, '_');
  return [...s].map((c) => c.charCodeAt(0));
}

/** A NameString from ASL path syntax (`\_SB.PCI0`, `^^FOO`, `_PRT`). */
export function nameString(path: string): number[] {
  const out: number[] = [];
  let rest = path;
  if (rest.startsWith('\\')) {
    out.push(ROOT_CHAR);
    rest = rest.slice(1);
  }
  while (rest.startsWith('^')) {
    out.push(PARENT_PREFIX_CHAR);
    rest = rest.slice(1);
  }
  if (rest === '') {
    out.push(ZERO_OP); // NullName
    return out;
  }
  const segs = rest.split('.');
  if (segs.length === 2) out.push(DUAL_NAME_PREFIX);
  else if (segs.length > 2) {
    if (segs.length > 255) throw new AmlError(`name '${path}' has too many segments`);
    out.push(MULTI_NAME_PREFIX, segs.length);
  }
  for (const s of segs) out.push(...nameSeg(s));
  return out;
}

// --- Data objects (20.2.3) -------------------------------------------------------------------

/** An integer in its shortest encoding. */
export function int(value: number | bigint): number[] {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new AmlError(`integer ${value} is out of range`);
  if (v === 0n) return [ZERO_OP];
  if (v === 1n) return [ONE_OP];
  const bytes = (n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
  if (v <= 0xffn) return [BYTE_PREFIX, ...bytes(1)];
  if (v <= 0xffffn) return [WORD_PREFIX, ...bytes(2)];
  if (v <= 0xffff_ffffn) return [DWORD_PREFIX, ...bytes(4)];
  return [QWORD_PREFIX, ...bytes(8)];
}

/** A null-terminated ASCII string. */
export function str(s: string): number[] {
  const out = [STRING_PREFIX];
  for (const c of s) {
    const code = c.charCodeAt(0);
    if (code < 1 || code > 0x7f) throw new AmlError(`AML strings are ASCII: '${s}'`);
    out.push(code);
  }
  out.push(0);
  return out;
}

/** Buffer (n) { bytes }. */
export function buffer(bytes: Aml): number[] {
  return withPkg([BUFFER_OP], cat(int(bytes.length), bytes));
}

/** Package () { elements }; a VarPackage past 255 elements. */
export function pkg(elements: Aml[]): number[] {
  if (elements.length > 255) return withPkg([VAR_PACKAGE_OP], cat(int(elements.length), ...elements));
  return withPkg([PACKAGE_OP], cat([elements.length], ...elements));
}

/** EISAID("PNP0A03"): three letters of 5 bits and four hex digits, as a DWord integer (19.6.43). */
export function eisaId(id: string): number[] {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new AmlError(`bad EISA id '${id}'`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const b0 = ((c(0) << 2) | (c(1) >>> 3)) & 0xff;
  const b1 = ((c(1) << 5) | c(2)) & 0xff;
  const hexVal = parseInt(id.slice(3), 16);
  const value = (b0 | (b1 << 8) | ((hexVal >>> 8) << 16) | ((hexVal & 0xff) << 24)) >>> 0;
  return int(value);
}

// --- Namespace modifiers and named objects (20.2.5) ----------------------------------------

/** Name (NAME, value). */
export function nameDecl(name: string, value: Aml): number[] {
  return cat([NAME_OP], nameString(name), value);
}

/** Scope (NAME) { terms }. */
export function scope(name: string, terms: Aml[]): number[] {
  return withPkg([SCOPE_OP], cat(nameString(name), ...terms));
}

/** Device (NAME) { terms }. */
export function device(name: string, terms: Aml[]): number[] {
  return withPkg([EXT_OP_PREFIX, DEVICE_OP], cat(nameString(name), ...terms));
}

/** Method (NAME, argCount, Serialized|NotSerialized) { terms } (sync level 0). */
export function method(name: string, argCount: number, serialized: boolean, terms: Aml[]): number[] {
  if (!Number.isInteger(argCount) || argCount < 0 || argCount > 7) throw new AmlError(`method ${name}: ${argCount} arguments`);
  return withPkg([METHOD_OP], cat(nameString(name), [argCount | (serialized ? 0x08 : 0)], ...terms));
}

/** Operation region address spaces (19.6.100). */
export const enum RegionSpace {
  SystemMemory = 0x00,
  SystemIO = 0x01,
  PciConfig = 0x02,
}

/** OperationRegion (NAME, space, offset, length). */
export function opRegion(name: string, space: RegionSpace, offset: number, length: number): number[] {
  return cat([EXT_OP_PREFIX, OP_REGION_OP], nameString(name), [space], int(offset), int(length));
}

/** Field access types (19.6.48). */
export const enum FieldAccess {
  Any = 0,
  Byte = 1,
  Word = 2,
  DWord = 3,
  QWord = 4,
  Buffer = 5,
}
export const enum FieldUpdate {
  Preserve = 0,
  WriteAsOnes = 1,
  WriteAsZeros = 2,
}

/** A field unit: a named field of `bits`, or (name '') reserved bits to skip. */
export interface FieldElement {
  name: string;
  bits: number;
}

/** Field (REGION, access, NoLock|Lock, update) { elements }. */
export function field(region: string, access: FieldAccess, lock: boolean, update: FieldUpdate, elements: FieldElement[]): number[] {
  const list: number[] = [];
  for (const e of elements) {
    if (e.name === '') list.push(0x00, ...rawLength(e.bits)); // ReservedField
    else list.push(...nameSeg(e.name), ...rawLength(e.bits));
  }
  return withPkg([EXT_OP_PREFIX, FIELD_OP], cat(nameString(region), [access | (lock ? 0x10 : 0) | (update << 5)], list));
}

/** CreateDWordField (source, byteIndex, NAME). */
export function createDWordField(source: Aml, byteIndex: number, name: string): number[] {
  return cat([CREATE_DWORD_FIELD_OP], source, int(byteIndex), nameString(name));
}

// --- Statements and expressions (20.2.5.3, 20.2.5.4) ----------------------------------------

export const arg = (n: number): number[] => [ARG0_OP + n];
export const local = (n: number): number[] => [LOCAL0_OP + n];
/** A reference to a named object (or a method call with no arguments). */
export const ref = (path: string): number[] => nameString(path);
/** A method call: name then arguments. */
export const call = (path: string, ...args: Aml[]): number[] => cat(nameString(path), ...args);

export const ret = (value: Aml): number[] => cat([RETURN_OP], value);
export const store = (src: Aml, dst: Aml): number[] => cat([STORE_OP], src, dst);
/** And (a, b, target); target NullName when omitted. */
export const and = (a: Aml, b: Aml, target: Aml = [ZERO_OP]): number[] => cat([AND_OP], a, b, target);
export const or = (a: Aml, b: Aml, target: Aml = [ZERO_OP]): number[] => cat([OR_OP], a, b, target);
export const lLess = (a: Aml, b: Aml): number[] => cat([LLESS_OP], a, b);
export const lEqual = (a: Aml, b: Aml): number[] => cat([LEQUAL_OP], a, b);

/** If (predicate) { terms }. */
export function ifThen(predicate: Aml, terms: Aml[]): number[] {
  return withPkg([IF_OP], cat(predicate, ...terms));
}

/** Else { terms } (follows an ifThen). */
export function elseDo(terms: Aml[]): number[] {
  return withPkg([ELSE_OP], cat(...terms));
}

// --- Resource descriptors (6.4) --------------------------------------------------------------

/** ResourceTemplate () { descriptors }: a Buffer ending in an End Tag with checksum 0. */
export function resourceTemplate(descriptors: Aml[]): number[] {
  return buffer(cat(...descriptors, [0x79, 0x00]));
}

const le = (value: number, bytes: number): number[] =>
  Array.from({ length: bytes }, (_, i) => Number((BigInt(value) >> BigInt(8 * i)) & 0xffn));

/** IO (Decode16, min, max, alignment, length) — 6.4.2.5. */
export function io(min: number, max: number, alignment: number, length: number): number[] {
  return [0x47, 0x01, ...le(min, 2), ...le(max, 2), alignment & 0xff, length & 0xff];
}

/** IRQNoFlags () { irq } — 6.4.2.1 (edge, active high, exclusive). */
export function irqNoFlags(...irqs: number[]): number[] {
  let mask = 0;
  for (const i of irqs) mask |= 1 << i;
  return [0x22, mask & 0xff, mask >>> 8];
}

/** Memory32Fixed (ReadWrite or ReadOnly, base, length) — 6.4.3.4. */
export function memory32Fixed(writable: boolean, base: number, length: number): number[] {
  return [0x86, 0x09, 0x00, writable ? 0x01 : 0x00, ...le(base, 4), ...le(length, 4)];
}

export interface InterruptFlags {
  consumer: boolean;
  level: boolean;
  activeHigh: boolean;
  shared: boolean;
}

/** Interrupt (ResourceConsumer, Level, ActiveHigh, Shared) { irqs } — Extended Interrupt, 6.4.3.6. */
export function interrupt(f: InterruptFlags, irqs: number[]): number[] {
  const flags = (f.consumer ? 1 : 0) | (f.level ? 0 : 2) | (f.activeHigh ? 0 : 4) | (f.shared ? 8 : 0);
  const body = [flags, irqs.length, ...irqs.flatMap((i) => le(i, 4))];
  return [0x89, ...le(body.length, 2), ...body];
}

/** Address-space descriptor common part (6.4.3.5): resource type and general flags. */
export const enum AddressResource {
  Memory = 0,
  Io = 1,
  BusNumber = 2,
}

/** General flags: ResourceProducer, PosDecode, MinFixed, MaxFixed (what a host bridge's _CRS uses). */
const PRODUCER_FIXED = (1 << 3) | (1 << 2);

/** I/O type-specific flag: EntireRange. */
export const IO_ENTIRE_RANGE = 0x03;
/** Memory type-specific flags: ReadWrite, and the cacheability in bits 2:1. */
export const MEM_READ_WRITE = 0x01;
export const MEM_NON_CACHEABLE = 0x00;
export const MEM_CACHEABLE = 0x02;

function addressSpace(tag: number, width: number, type: AddressResource, typeFlags: number, min: number, max: number, length: number): number[] {
  const body = [type, PRODUCER_FIXED, typeFlags, ...le(0, width), ...le(min, width), ...le(max, width), ...le(0, width), ...le(length, width)];
  return [tag, ...le(body.length, 2), ...body];
}

/** WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, length). */
export const wordBusNumber = (min: number, max: number): number[] =>
  addressSpace(0x88, 2, AddressResource.BusNumber, 0, min, max, max - min + 1);

/** WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, length). */
export const wordIo = (min: number, max: number): number[] =>
  addressSpace(0x88, 2, AddressResource.Io, IO_ENTIRE_RANGE, min, max, max - min + 1);

/** DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, 0, min, max, 0, length). */
export const dwordMemory = (cacheable: boolean, min: number, max: number): number[] =>
  addressSpace(0x87, 4, AddressResource.Memory, MEM_READ_WRITE | (cacheable ? MEM_CACHEABLE : MEM_NON_CACHEABLE), min, max, max - min + 1);

/** QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, cacheability, ReadWrite, 0, min, max, 0, length). */
export const qwordMemory = (cacheable: boolean, min: number, max: number): number[] =>
  addressSpace(0x8a, 8, AddressResource.Memory, MEM_READ_WRITE | (cacheable ? MEM_CACHEABLE : MEM_NON_CACHEABLE), min, max, max - min + 1);
