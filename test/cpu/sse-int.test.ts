/**
 * SSE2 packed-integer operations on XMM registers match the host CPU.
 * Expected values: the host CPU (test/cpu/fixtures/sse-int.json, made by
 * scripts/gen-sse-fixtures.mjs); the data window holds XMM0, XMM1 and MXCSR before and after.
 */
import { describeFixture } from './fixture-runner.js';
import { enableSse } from './sse-setup.js';

describeFixture('sse-int', 'SSE2 packed-integer operations on XMM registers match the host CPU', enableSse);
