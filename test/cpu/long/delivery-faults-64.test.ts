/**
 * Faults raised while an event is delivered in IA-32e mode (SDM Vol. 2 INT n, IA-32e-MODE and
 * the INTER-/INTRA-PRIVILEGE-LEVEL-INTERRUPT steps; Vol. 3A 6.13-6.14): EXT (bit 0) is 1 in
 * their error codes unless the event is INT n, INT3 or INTO; a frame that would leave
 * canonical space is #SS(EXT) at any privilege, a non-canonical handler address #GP(EXT), both
 * before anything is pushed. Expected error codes worked out by hand from those pages.
 */
import { describe, expect, it } from 'vitest';
import { CODE_ADDR, LongModeHarness, STACK_TOP } from '../../helpers/cpu-harness64.js';

const Vec = { DB: 1, UD: 6, NP: 11, SS: 12, GP: 13 } as const;
const UD2 = [0x0f, 0x0b];
const INT6 = [0xcd, 0x06];
/** The lowest canonical upper-half address (the harness maps it to physical 0). */
const UPPER_HALF = 0xffff800000000000n;

for (const jit of [false, true]) {
  describe(`faults during 64-bit event delivery carry EXT (${jit ? 'JIT' : 'interpreter'})`, () => {
    const cases: [string, number[], (h: LongModeHarness) => void, number, bigint][] = [
      ['an exception through a gate that is not present: #NP(6 * 8 + 2 + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, BigInt(h.handler(Vec.UD)), { present: false }), Vec.NP, 0x33n],
      ['INT 6 through it: #NP(6 * 8 + 2)', INT6,
        (h) => h.setIdtGate(Vec.UD, BigInt(h.handler(Vec.UD)), { present: false }), Vec.NP, 0x32n],
      ['INT1 through a gate that is not present: #NP(1 * 8 + 2 + EXT)', [0xf1],
        (h) => h.setIdtGate(Vec.DB, BigInt(h.handler(Vec.DB)), { present: false }), Vec.NP, 0x0bn],
      ['an exception whose code selector is past the GDT limit: #GP(selector + EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, BigInt(h.handler(Vec.UD)), { selector: 0x80 }), Vec.GP, 0x81n],
      ['an exception whose handler address is not canonical: #GP(EXT)', UD2,
        (h) => h.setIdtGate(Vec.UD, 0x0000800000000000n), Vec.GP, 1n],
      ['INT 6 to that handler: #GP(0)', INT6,
        (h) => h.setIdtGate(Vec.UD, 0x0000800000000000n), Vec.GP, 0n],
    ];
    for (const [what, code, gate, vector, errorCode] of cases) {
      it(what, () => {
        const h = LongModeHarness.flat64({ jit });
        const r = h.run({ code, setup: () => gate(h) });
        expect(r.exception).toMatchObject({ vector, errorCode, rip: BigInt(CODE_ADDR), rsp: BigInt(STACK_TOP) });
      });
    }

    for (const [name, code, err] of [['an exception', UD2, 1n], ['INT 6', INT6, 0n]] as const) {
      it(`${name} whose frame on the current stack would leave canonical space: #SS(${err}), RSP unchanged`, () => {
        const h = LongModeHarness.flat64({ jit });
        // The #SS handler runs on IST 1, so that it can be delivered.
        const r = h.run({
          code: [...code],
          regs: { rsp: UPPER_HALF + 0x10n },
          mem: [{ addr: 0, bytes: new Array<number>(0x10).fill(0xa5) }],
          setup: () => h.setIdtGate(Vec.SS, BigInt(h.handler(Vec.SS)), { ist: 1 }),
        });
        expect(r.exception).toMatchObject({ vector: Vec.SS, errorCode: err, rip: BigInt(CODE_ADDR), rsp: UPPER_HALF + 0x10n });
        // Nothing was written at the top of the frame, inside canonical space (physical 0-0xF).
        expect(r.read64(0)).toBe(0xa5a5a5a5a5a5a5a5n);
        expect(r.read64(8)).toBe(0xa5a5a5a5a5a5a5a5n);
      });
    }
  });
}
