import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type ServerConfig, usage } from "./config.js";

function load(argv: string[], env: Record<string, string> = {}): ServerConfig {
  const config = loadConfig(["--insecure", ...argv], env);
  if ("help" in config) throw new Error("unexpected --help result");
  return config;
}

describe("default quotas", () => {
  it("are unlimited when absent or 0", () => {
    expect(load([]).quotas).toEqual({ sandboxes: null, vcpus: null, memoryMb: null, snapshotBytes: null });
    expect(load(["--quota-sandboxes", "0"], { FLUID_QUOTA_VCPUS: "0" }).quotas).toMatchObject({
      sandboxes: null,
      vcpus: null,
    });
  });

  it("come from flags or the environment, the flag winning; snapshot storage is given in GiB", () => {
    const config = load(["--quota-sandboxes", "5", "--quota-snapshot-gb", "2"], {
      FLUID_QUOTA_SANDBOXES: "9",
      FLUID_QUOTA_VCPUS: "16",
      FLUID_QUOTA_MEMORY_MB: "8192",
    });
    expect(config.quotas).toEqual({ sandboxes: 5, vcpus: 16, memoryMb: 8192, snapshotBytes: 2 * 1024 ** 3 });
  });

  it("refuse anything but a whole number, naming the flag and variable", () => {
    let error: unknown;
    try {
      load(["--quota-vcpus=-1", "--quota-memory-mb", "1.5"], { FLUID_QUOTA_SNAPSHOT_GB: "lots" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      '--quota-vcpus (FLUID_QUOTA_VCPUS) must be a whole number, 0 for unlimited, got "-1"',
      '--quota-memory-mb (FLUID_QUOTA_MEMORY_MB) must be a whole number, 0 for unlimited, got "1.5"',
      '--quota-snapshot-gb (FLUID_QUOTA_SNAPSHOT_GB) must be a whole number, 0 for unlimited, got "lots"',
    ]);
  });

  it("are documented in the usage text", () => {
    for (const flag of ["--quota-sandboxes", "--quota-vcpus", "--quota-memory-mb", "--quota-snapshot-gb"]) {
      expect(usage).toContain(flag);
    }
  });
});
