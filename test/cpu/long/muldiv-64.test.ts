/** 64-bit operand size MUL IMUL DIV IDIV against the host CPU (fixtures/muldiv64.json). */
import { describeFixture64 } from './fixture-runner64.js';

describeFixture64('muldiv64', 'MUL IMUL DIV IDIV at 64-bit operand size');
