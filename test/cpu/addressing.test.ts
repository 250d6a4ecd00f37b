/**
 * Effective-address decoding: LEA over 16-bit (BX/BP/SI/DI, with wrap-around) and 32-bit
 * (SIB, scale, disp8/disp32) forms and operand sizes, MOV through ModRM/SIB/moffs memory
 * operands with segment overrides, XLAT, XCHG. Expected values: the host CPU
 * (test/cpu/fixtures/addressing.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('addressing', 'effective addresses and data moves match the host CPU');
