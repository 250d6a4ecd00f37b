/**
 * MOVS STOS LODS CMPS SCAS at each width, with and without REP/REPE/REPNE, DF clear and set,
 * counts 0-8, early REPE/REPNE termination, and an overlapping REP MOVSB. Registers, flags and
 * the memory window are compared. Expected values: the host CPU (test/cpu/fixtures/string.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('string', 'string instructions match the host CPU');
