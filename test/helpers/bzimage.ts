/**
 * Test kernels for the Linux boot protocol (Documentation/x86/boot.rst).
 */

/** A minimal bzImage (boot.rst setup header, protocol 2.15) whose payload is `hlt`. */
export function hltBzImage(): Uint8Array {
  const setupSects = 4;
  const img = new Uint8Array((setupSects + 1) * 512 + 16);
  const v = new DataView(img.buffer);
  v.setUint8(0x1f1, setupSects);
  v.setUint32(0x1f4, 1, true); // syssize: one paragraph
  v.setUint16(0x1fe, 0xaa55, true);
  img.set([0xeb, 0x6a], 0x200);
  img.set(new TextEncoder().encode('HdrS'), 0x202);
  v.setUint16(0x206, 0x20f, true);
  v.setUint8(0x211, 0x01); // LOADED_HIGH
  v.setUint32(0x214, 0x100000, true);
  v.setUint32(0x22c, 0x7fffffff, true);
  v.setUint32(0x230, 0x200000, true);
  v.setUint8(0x234, 1);
  v.setUint32(0x238, 2047, true);
  v.setUint32(0x258, 0x400000, true);
  v.setUint32(0x260, 0x200000, true);
  img[(setupSects + 1) * 512] = 0xf4;
  return img;
}
