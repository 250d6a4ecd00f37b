/**
 * The JIT translates each host-CPU fixture snippet (the instruction under test, then the
 * HLT that ends the block) and must reproduce the host's results exactly as the interpreter
 * does: the same fixtures as test/cpu/, run as translated code.
 */
import { describeFixture } from '../cpu/fixture-runner.js';

for (const group of ['alu', 'shifts', 'muldiv', 'bitops', 'exchange', 'extend', 'conditions', 'stack', 'addressing', 'encodings', 'control', 'string']) {
  describeFixture(group, `JIT: ${group} fixtures match the host CPU`, undefined, { jit: true });
}
