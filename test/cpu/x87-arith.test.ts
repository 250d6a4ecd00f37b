/**
 * x87 arithmetic matches the host CPU. Expected values: the host CPU's x87 unit (test/cpu/fixtures/x87-arith.json, made by
 * scripts/gen-x87-fixtures.mjs); x87-fixture-runner.ts explains what is compared and how.
 */
import { describeX87Fixture } from './x87-fixture-runner.js';

describeX87Fixture('x87-arith', 'x87 arithmetic matches the host CPU');
