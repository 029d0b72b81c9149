import { defaultServerConditions } from "vite";
import { defineProject } from "vitest/config";

const sourceConditions = ["fluid-source", ...defaultServerConditions];

export default defineProject({
  // The server and daemon APIs the testkit uses run from source, in test files (ssr) and in the global setup
  // (vitest's own __vitest__ environment) alike.
  ssr: { resolve: { conditions: sourceConditions } },
  environments: { __vitest__: { resolve: { conditions: sourceConditions } } },
  test: {
    name: "testkit",
    include: ["src/**/*.test.ts"],
    globalSetup: ["src/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
