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
 * Builds a guest image into `imageDir` with the fluid-daemon CLI. Builds are cached by recipe hash,
 * so after the first run on a machine this takes well under a second.
 */
export function buildImage(name: "tiny" | "debian-12", imageDir: string): void {
  const build = spawnSync(
    process.execPath,
    [join(repoRoot, "packages/daemon/bin/fluid-daemon.js"), "image", "build", name, "--image-dir", imageDir],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  if (build.status !== 0) throw new Error(`building the ${name} image failed (exit ${build.status})`);
}

/** Builds the small test image once per run into the shared image directory. */
export default function setup(project: TestProject) {
  const imageDir = process.env.FLUID_E2E_IMAGE_DIR ?? "/var/lib/fluid/images";
  buildImage("tiny", imageDir);
  project.provide("imageDir", imageDir);
}
