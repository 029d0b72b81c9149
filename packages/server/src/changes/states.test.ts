import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import { allows, assertAllowed, changeRequestStates, stateAfter } from "./states.js";

describe("change request state machine", () => {
  it("approval starts only from verified", () => {
    const from = changeRequestStates.filter((s) => allows("approve", s));
    expect(from).toEqual(["verified"]);
  });

  it("verification starts from draft, verified or failed, never while one runs or after a decision", () => {
    const from = changeRequestStates.filter((s) => allows("verify", s));
    expect(from).toEqual(["draft", "verified", "verification_failed"]);
  });

  it("an edit is refused only once applied, and always leads back to draft", () => {
    const refused = changeRequestStates.filter((s) => !allows("edit", s));
    expect(refused).toEqual(["applied"]);
    expect(stateAfter.edit).toBe("draft");
  });

  it("a rejection is refused once rejected or applied", () => {
    const refused = changeRequestStates.filter((s) => !allows("reject", s));
    expect(refused).toEqual(["rejected", "applied"]);
  });

  it("a refused action is a 409 invalid_state naming the state", () => {
    const refusal = (() => {
      try {
        assertAllowed("verify", "verifying");
      } catch (err) {
        return err;
      }
    })();
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ status: 409, code: "invalid_state" });
    expect((refusal as AppError).message).toContain("already running");
  });
});
