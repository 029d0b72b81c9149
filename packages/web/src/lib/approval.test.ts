import { describe, expect, it } from "vitest";
import { decisionControls } from "./approval";

const request = { author_id: "ada", state: "verified" as const };
const org = (role: string, allow_self_approval = false) => ({ role: role as "admin", allow_self_approval });

describe("decisionControls", () => {
  it("gives viewers and members no decision controls at all", () => {
    expect(decisionControls(org("viewer"), "bob", request)).toBe("none");
    expect(decisionControls(org("member"), "bob", request)).toBe("none");
  });

  it("lets a second admin approve, and keeps the author to rejecting (two-person rule)", () => {
    expect(decisionControls(org("admin"), "bob", request)).toBe("approve-and-reject");
    expect(decisionControls(org("owner"), "ada", request)).toBe("reject-only");
  });

  it("lets the author approve when the org allows self-approval", () => {
    expect(decisionControls(org("owner", true), "ada", request)).toBe("approve-and-reject");
  });

  it("offers nothing on a request already approved, rejected or applied", () => {
    for (const state of ["approved", "rejected", "applied"] as const) {
      expect(decisionControls(org("admin"), "bob", { ...request, state })).toBe("closed");
    }
  });
});
