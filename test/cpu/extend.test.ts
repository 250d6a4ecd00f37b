/**
 * MOVSX MOVZX (register, high-byte register and memory sources) and CBW CWDE CWD CDQ.
 * Expected values: the host CPU (test/cpu/fixtures/extend.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('extend', 'sign and zero extension match the host CPU');
