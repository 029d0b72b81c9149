import { describe, expect, it } from "vitest";
import type { Role, Sandbox } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { assertCanModify, assertCanRead, assertState, mayEnter } from "./access.js";

const scope = (role: Role, userId = "u1"): OrgScope => ({
  orgId: "o1",
  slug: "acme",
  name: "Acme",
  ownerId: "owner",
  role,
  principal: { kind: "user", userId, sessionId: "s" },
});

const sandbox = (overrides: Partial<Sandbox> = {}) =>
  ({ id: "sb1", created_by: "u1", state: "RUNNING", ended_at: null, end_reason: null, ...overrides }) as Sandbox;

function codeOf(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

describe("sandbox access", () => {
  it("lets members enter their own sandboxes and admins everyone's", () => {
    expect(mayEnter(scope("member"), sandbox())).toBe(true);
    expect(mayEnter(scope("member", "u2"), sandbox())).toBe(false);
    expect(mayEnter(scope("admin", "u2"), sandbox())).toBe(true);
    expect(mayEnter(scope("viewer"), sandbox())).toBe(false);
  });

  it("forbids viewers and other members to change or read a sandbox", () => {
    expect(codeOf(() => assertCanModify(scope("viewer"), sandbox()))).toBe("forbidden");
    expect(codeOf(() => assertCanModify(scope("member", "u2"), sandbox()))).toBe("forbidden");
    expect(codeOf(() => assertCanRead(scope("member", "u2"), sandbox()))).toBe("forbidden");
    expect(codeOf(() => assertCanRead(scope("member"), sandbox()))).toBeUndefined();
    expect(codeOf(() => assertCanModify(scope("admin", "u2"), sandbox()))).toBeUndefined();
  });

  it("refuses actions in the wrong state, and anything once the sandbox has ended", () => {
    expect(codeOf(() => assertState(sandbox(), ["RUNNING"], "stop"))).toBeUndefined();
    expect(codeOf(() => assertState(sandbox({ state: "STOPPED" }), ["RUNNING"], "stop"))).toBe("invalid_state");
    const ended = sandbox({ ended_at: new Date(), end_reason: "user_request" });
    expect(codeOf(() => assertState(ended, ["RUNNING"], "stop"))).toBe("invalid_state");
  });
});
