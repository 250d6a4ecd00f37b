/**
 * x87 loads, stores, integer and BCD conversions, register moves and constants match the host CPU. Expected values: the host CPU's x87 unit (test/cpu/fixtures/x87-loadstore.json, made by
 * scripts/gen-x87-fixtures.mjs); x87-fixture-runner.ts explains what is compared and how.
 */
import { describeX87Fixture } from './x87-fixture-runner.js';

describeX87Fixture('x87-loadstore', 'x87 loads, stores, integer and BCD conversions, register moves and constants match the host CPU');
