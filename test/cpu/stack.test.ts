/**
 * PUSH/POP of registers, immediates, memory and ESP itself (POP [ESP] uses the incremented
 * ESP), PUSHF/POPF, PUSHA/POPA, ENTER (nesting levels 0, 1, 3)/LEAVE, near CALL/RET (relative,
 * register, memory, RET imm16), and the ID-flag toggle. The snippet moves ESP into the data
 * window, so the pushed bytes are compared. Expected values: the host CPU
 * (test/cpu/fixtures/stack.json).
 */
import { describeFixture } from './fixture-runner.js';

describeFixture('stack', 'stack instructions match the host CPU');
