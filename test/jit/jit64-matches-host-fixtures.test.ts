/**
 * The JIT translates each 64-bit host-CPU fixture snippet (the instruction under test, then
 * the HLT that ends the block) in 64-bit mode and must reproduce the host's results exactly
 * as the interpreter does: the same fixtures as test/cpu/long/, run as translated code.
 */
import { describeFixture64 } from '../cpu/long/fixture-runner64.js';

for (const group of ['alu64', 'shifts64', 'muldiv64', 'bitops64']) {
  describeFixture64(group, `JIT: ${group} fixtures match the host CPU`, { jit: true });
}
