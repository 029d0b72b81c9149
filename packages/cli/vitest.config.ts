import { defaultServerConditions } from "vite";
import { defineProject } from "vitest/config";

const sourceConditions = ["fluid-source", ...defaultServerConditions];

export default defineProject({
  // Workspace packages that export a "fluid-source" entry (the testkit and the APIs it uses) run from source,
  // in test files (ssr) and in the global setup (vitest's own __vitest__ environment) alike.
  ssr: { resolve: { conditions: sourceConditions } },
  environments: { __vitest__: { resolve: { conditions: sourceConditions } } },
  test: {
    name: "cli",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    globalSetup: ["../testkit/src/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
