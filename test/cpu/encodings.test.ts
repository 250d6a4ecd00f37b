/**
 * Encodings the SDM makes #UD (UD2, UD0, LOCK on a register destination or on an instruction
 * that cannot be locked, register operands where only memory is allowed, unused ModRM.reg
 * values, MOV to CS), the LOCKed read-modify-write forms that are legal, and the hint-NOP
 * space 0F 18-0F 1F that P6-class and later processors execute as NOPs (ENDBR32, which
 * compilers emit at every function entry with -fcf-protection, PREFETCHh, NOP Ev).
 * Expected values: the host CPU, whose SIGILL marks #UD (test/cpu/fixtures/encodings.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('encodings', 'invalid encodings raise #UD and hint NOPs execute, like the host CPU');
