/** 64-bit operand size ADD ADC SUB SBB logic INC DEC NEG NOT against the host CPU (fixtures/alu64.json). */
import { describeFixture64 } from './fixture-runner64.js';

describeFixture64('alu64', 'ADD ADC SUB SBB logic INC DEC NEG NOT at 64-bit operand size');
