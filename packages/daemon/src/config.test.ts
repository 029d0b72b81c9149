import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkMetricsToken,
  checkPath,
  defaultImageDir,
  defaultStateDir,
  parseAccel,
  parseMetricsListen,
  parseTcgCacheMb,
  parseWarmPool,
} from "./config.js";

describe("defaultImageDir", () => {
  it("is /var/lib/fluid/images for root and under XDG_DATA_HOME otherwise", () => {
    expect(defaultImageDir({ XDG_DATA_HOME: "/data" }, 0)).toBe("/var/lib/fluid/images");
    expect(defaultImageDir({ XDG_DATA_HOME: "/data" }, 1000)).toBe("/data/fluid/images");
    expect(defaultImageDir({}, 1000)).toBe(join(homedir(), ".local/share/fluid/images"));
    expect(defaultImageDir({ XDG_DATA_HOME: "relative" }, 1000)).toBe(join(homedir(), ".local/share/fluid/images"));
  });
});

describe("daemon paths and flags", () => {
  it("puts state beside images: /var/lib/fluid for root, XDG data otherwise", () => {
    expect(defaultStateDir({}, 0)).toBe("/var/lib/fluid/daemon");
    expect(defaultStateDir({ XDG_DATA_HOME: "/data" }, 1000)).toBe("/data/fluid/daemon");
  });

  it("accepts only absolute paths that need no quoting (they reach QEMU's exec: URIs)", () => {
    expect(checkPath("--state-dir", "/var/lib/fluid/daemon")).toBe("/var/lib/fluid/daemon");
    expect(() => checkPath("--state-dir", "relative/dir")).toThrow(/absolute/);
    expect(() => checkPath("--state-dir", "/tmp/a b")).toThrow();
    expect(() => checkPath("--state-dir", "/tmp/x;rm -rf /")).toThrow();
  });

  it("reads --metrics-listen as HOST:PORT and refuses a short metrics token", () => {
    expect(parseMetricsListen("127.0.0.1:9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseMetricsListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(() => parseMetricsListen("9464")).toThrow(/--metrics-listen must be HOST:PORT/);
    expect(() => parseMetricsListen("h:70000")).toThrow(/--metrics-listen/);
    expect(checkMetricsToken("t".repeat(16))).toBe("t".repeat(16));
    expect(() => checkMetricsToken("short")).toThrow(/--metrics-token must be 16 to 256/);
  });

  it("knows the acceleration choices", () => {
    expect(parseAccel("tcg")).toBe("tcg");
    expect(() => parseAccel("hvf")).toThrow(/auto, kvm or tcg/);
  });

  it("takes a TCG translation cache size in whole MiB within what QEMU can use", () => {
    expect(parseTcgCacheMb("16")).toBe(16);
    expect(() => parseTcgCacheMb("2")).toThrow(/4 to 1024/);
    expect(() => parseTcgCacheMb("16.5")).toThrow(/whole number/);
    expect(() => parseTcgCacheMb("lots")).toThrow(/tcg-cache-mb/);
  });
});

describe("--warm-pool", () => {
  const shape = { vcpus: 1, memoryMb: 512 };

  it("reads a size per image, in the default shape unless one is given", () => {
    expect(parseWarmPool("tiny=2,debian-12=1:2x1024", shape)).toEqual([
      { image: "tiny", size: 2, vcpus: 1, memoryMb: 512 },
      { image: "debian-12", size: 1, vcpus: 2, memoryMb: 1024 },
    ]);
  });

  it("is empty by default and drops images sized 0", () => {
    expect(parseWarmPool("", shape)).toEqual([]);
    expect(parseWarmPool("tiny=0", shape)).toEqual([]);
  });

  it("refuses malformed entries, oversized pools and an image named twice", () => {
    expect(() => parseWarmPool("tiny", shape)).toThrow(/IMAGE=COUNT/);
    expect(() => parseWarmPool("../x=1", shape)).toThrow(/IMAGE=COUNT/);
    expect(() => parseWarmPool("tiny=17", shape)).toThrow(/at most 16/);
    expect(() => parseWarmPool("tiny=1:0x512", shape)).toThrow(/at least 1 vCPU/);
    expect(() => parseWarmPool("tiny=1,tiny=2", shape)).toThrow(/twice/);
  });
});
