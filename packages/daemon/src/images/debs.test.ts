import { describe, expect, it } from "vitest";
import { debFilePrefix, parseControl } from "./debs.js";

describe("Debian package metadata", () => {
  it("parses a control stanza, folding continuation lines and stopping at the first blank line", () => {
    const text = [
      "Package: linux-image-amd64",
      "Version: 6.1.192-2",
      "Depends: linux-image-6.1.0-56-amd64 (= 6.1.192-2)",
      "Description: Linux for 64-bit PCs (meta-package)",
      " This package depends on the latest Linux kernel.",
      "",
      "Package: second-stanza",
    ].join("\n");
    expect(parseControl(text)).toEqual({
      Package: "linux-image-amd64",
      Version: "6.1.192-2",
      Depends: "linux-image-6.1.0-56-amd64 (= 6.1.192-2)",
      Description: "Linux for 64-bit PCs (meta-package)\nThis package depends on the latest Linux kernel.",
    });
  });

  it("predicts apt-get download's file names, epoch colon included", () => {
    expect(debFilePrefix("qemu-guest-agent", "1:7.2+dfsg-7+deb12u18+b3")).toBe(
      "qemu-guest-agent_1%3a7.2+dfsg-7+deb12u18+b3_",
    );
    expect(debFilePrefix("linux-image-6.1.0-56-amd64", "6.1.192-2")).toBe("linux-image-6.1.0-56-amd64_6.1.192-2_");
  });
});
