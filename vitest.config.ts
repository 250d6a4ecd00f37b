import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Guest-level tests boot real guests; give them room, but unit tests stay fast.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
