/**
 * BSF BSR, BT BTS BTR BTC (register, immediate, and memory bit strings addressed by a signed
 * register offset beyond the operand) and BSWAP. Expected values: the host CPU
 * (test/cpu/fixtures/bitops.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('bitops', 'bit scan, bit test and byte swap match the host CPU');
