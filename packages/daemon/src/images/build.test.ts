import { describe, expect, it } from "vitest";
import { debianMirror } from "./build.js";

describe("debianMirror", () => {
  it("defaults to deb.debian.org and can be overridden", () => {
    expect(debianMirror({})).toBe("http://deb.debian.org/debian");
    expect(debianMirror({ FLUID_DEBIAN_MIRROR: " " })).toBe("http://deb.debian.org/debian");
    expect(debianMirror({ FLUID_DEBIAN_MIRROR: "https://mirror.example/debian" })).toBe(
      "https://mirror.example/debian",
    );
  });

  it("refuses something that is not a URL", () => {
    expect(() => debianMirror({ FLUID_DEBIAN_MIRROR: "--keyring=/tmp/evil" })).toThrow(
      /must be an http\(s\):\/\/ or file:\/\/ URL/,
    );
  });
});
