/**
 * MUL and IMUL (one-, two- and three-operand forms), DIV and IDIV at 8, 16 and 32 bits,
 * including divide-by-zero and quotient-overflow cases, which must raise #DE (vector 0) and
 * leave the registers alone. After MUL/IMUL only CF and OF are defined; after DIV nothing is.
 * Expected values: the host CPU (test/cpu/fixtures/muldiv.json; the host's SIGFPE marks #DE).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('muldiv', 'multiply and divide results, CF/OF and #DE match the host CPU');
