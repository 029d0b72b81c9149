import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    imageDir: string;
  }
}

export const repoRoot = join(import.meta.dirname, "..", "..");

/**
 * Builds the small test image once per run into the shared image directory. The build is cached by
 * recipe hash, so after the first run on a machine this takes well under a second.
 */
export default function setup(project: TestProject) {
  const imageDir = process.env.FLUID_E2E_IMAGE_DIR ?? "/var/lib/fluid/images";
  const build = spawnSync(
    process.execPath,
    [join(repoRoot, "packages/daemon/bin/fluid-daemon.js"), "image", "build", "tiny", "--image-dir", imageDir],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  if (build.status !== 0) throw new Error(`building the tiny test image failed (exit ${build.status})`);
  project.provide("imageDir", imageDir);
}
