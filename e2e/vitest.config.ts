import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "e2e",
    include: ["**/*.test.ts"],
    globalSetup: ["lib/global-setup.ts"],
    // Real VMs under TCG: one file at a time, generous timeouts.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
