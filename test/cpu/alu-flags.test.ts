/**
 * ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT in 8-, 16- and 32-bit register,
 * immediate and memory forms, and chains where one instruction consumes the flags of the
 * previous one. Expected values: the host CPU (test/cpu/fixtures/alu.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('alu', 'integer ALU results and flags match the host CPU');
