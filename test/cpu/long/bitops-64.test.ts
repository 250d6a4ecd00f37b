/** 64-bit operand size bit scans, bit tests, BSWAP against the host CPU (fixtures/bitops64.json). */
import { describeFixture64 } from './fixture-runner64.js';

describeFixture64('bitops64', 'bit scans, bit tests, BSWAP at 64-bit operand size');
