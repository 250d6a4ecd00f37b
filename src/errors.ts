/**
 * Typed errors per module. Each carries a message a user can act on; the CLI prints
 * `pcvm: <message>` and exits 1 for any of them.
 */

/** A machine was wired wrongly: overlapping mappings, bad device parameters. */
export class WiringError extends Error {
  override readonly name = 'WiringError';
}

/** The user's configuration (command line, library options) cannot be honoured. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A saved state stream or device state is malformed, truncated or out of range. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}
