import { describe, expect, it } from "vitest";
import { classifySshFailure } from "./ssh-error.js";

describe("ssh failures", () => {
  it("classifySshFailure leaves ordinary remote stderr alone", () => {
    expect(classifySshFailure("virsh: error: failed to get domain 'x'")).toBeUndefined();
    expect(classifySshFailure("Connection closed by 10.0.0.1 port 22")).toBe("unreachable");
  });
});
