/**
 * x87 transcendental functions match the host CPU within a tolerance. Expected values: the host CPU's x87 unit (test/cpu/fixtures/x87-transcendental.json, made by
 * scripts/gen-x87-fixtures.mjs); x87-fixture-runner.ts explains what is compared and how.
 */
import { describeX87Fixture } from './x87-fixture-runner.js';

describeX87Fixture('x87-transcendental', 'x87 transcendental functions match the host CPU within a tolerance');
