import { startUntilReady } from "../../e2e/lib/processes.ts";

/** A fluid-daemon of this checkout on `stateDir`, ready when it says so; `extra` adds flags (network, server, pool). */
export function startBenchDaemon(stateDir: string, imageDir: string, extra: string[] = ["--network", "user"]) {
  return startUntilReady([
    process.execPath,
    "packages/daemon/bin/fluid-daemon.js",
    "run",
    "--state-dir",
    stateDir,
    "--image-dir",
    imageDir,
    ...extra,
  ]);
}
