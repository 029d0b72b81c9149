import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "sdk",
    include: ["src/**/*.test.ts"],
    globalSetup: ["../server/src/testing/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
