/**
 * SSE/SSE2 conversions under every rounding mode match the host CPU.
 * Expected values: the host CPU (test/cpu/fixtures/sse-convert.json, made by
 * scripts/gen-sse-fixtures.mjs); the data window holds XMM0, XMM1 and MXCSR before and after.
 */
import { describeFixture } from './fixture-runner.js';
import { enableSse } from './sse-setup.js';

describeFixture('sse-convert', 'SSE/SSE2 conversions under every rounding mode match the host CPU', enableSse);
