/**
 * XADD, CMPXCHG (equal and unequal comparisons, register and memory) and CMPXCHG8B.
 * Expected values: the host CPU (test/cpu/fixtures/exchange.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('exchange', 'exchange-and-add and compare-exchange match the host CPU');
