/**
 * ROL ROR RCL RCR SHL SHR SAR (by CL with counts 0-33, by 1, by imm8; register and memory)
 * and SHLD/SHRD. Only the flags the SDM defines for each count are compared: OF for counts
 * other than 1 and AF for shifts are undefined, as are CF for SHL/SHR counts at or beyond
 * the operand size and everything for SHLD/SHRD counts above it. Expected values: the host
 * CPU (test/cpu/fixtures/shifts.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('shifts', 'shift and rotate results and defined flags match the host CPU');
