/** 64-bit operand size shifts and rotates against the host CPU (fixtures/shifts64.json). */
import { describeFixture64 } from './fixture-runner64.js';

describeFixture64('shifts64', 'shifts and rotates at 64-bit operand size');
