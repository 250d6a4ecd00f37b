/**
 * pcvm as a library: `import { Machine } from 'pcvm'` (docs/library.md).
 */
export { Machine, SerialTimeoutError, QmpCommandError, type SerialMatch, type LibraryMachineEvents } from './library/machine.js';
export type { MachineOptions } from './library/options.js';
export { ConfigError, SnapshotError } from './errors.js';
export { runExpectScript, parseExpectScript, type ExpectScript, type ExpectResult } from './expect/expect-runner.js';
