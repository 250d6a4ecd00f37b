/**
 * SSE/SSE2 floating-point arithmetic: results, NaN rules and MXCSR flags under every rounding mode, FTZ and DAZ match the host CPU.
 * Expected values: the host CPU (test/cpu/fixtures/sse-arith.json, made by
 * scripts/gen-sse-fixtures.mjs); the data window holds XMM0, XMM1 and MXCSR before and after.
 */
import { describeFixture } from './fixture-runner.js';
import { enableSse } from './sse-setup.js';

describeFixture('sse-arith', 'SSE/SSE2 floating-point arithmetic: results, NaN rules and MXCSR flags under every rounding mode, FTZ and DAZ match the host CPU', enableSse);
