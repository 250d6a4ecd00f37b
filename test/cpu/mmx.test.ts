/**
 * MMX and the SSE/SSE2 additions on MMX registers (every packed-integer op, shifts by every
 * count, PSHUFW, PINSRW/PEXTRW, PMOVMSKB, MOVD/MOVQ, MASKMOVQ, MOVNTQ) match the host CPU.
 * Expected values: test/cpu/fixtures/mmx.json, made by scripts/gen-sse-fixtures.mjs.
 */
import { describeFixture } from './fixture-runner.js';
import { enableSse } from './sse-setup.js';

describeFixture('mmx', 'MMX instructions match the host CPU', enableSse);
