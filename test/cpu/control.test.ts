/**
 * LOOP LOOPE LOOPNE JECXZ, and LOOP/JCXZ with a 16-bit counter (address-size prefix), which
 * must leave the upper half of ECX alone. Expected values: the host CPU
 * (test/cpu/fixtures/control.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('control', 'loop instructions match the host CPU');
