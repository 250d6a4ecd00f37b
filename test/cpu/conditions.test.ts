/**
 * All 16 condition codes through SETcc, CMOVcc and Jcc (short and near): over all 64
 * combinations of the arithmetic flags loaded with POPF, and right after the ALU instruction
 * that produced them (our CPU evaluates those flags lazily). Also LAHF SAHF CMC CLC STC SALC.
 * Expected values: the host CPU (test/cpu/fixtures/conditions.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('conditions', 'condition codes and flag transfers match the host CPU');
