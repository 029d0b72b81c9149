import { describe, expect, it } from "vitest";
import { can } from "./roles";

const mine = { created_by: "me" };
const theirs = { created_by: "someone-else" };

describe("role-based controls", () => {
  it("offers org management (keys, tokens, members) to admins and the owner only", () => {
    expect(["viewer", "member", "admin", "owner"].map(can.manageOrg)).toEqual([false, false, true, true]);
  });

  it("lets members read and operate their own sandboxes, admins everyone's, viewers none", () => {
    expect(can.readContents("member", "me", mine)).toBe(true);
    expect(can.readContents("member", "me", theirs)).toBe(false);
    expect(can.operate("member", "me", theirs)).toBe(false);
    expect(can.operate("admin", "me", theirs)).toBe(true);
    expect(can.readContents("viewer", "me", mine)).toBe(false);
  });

  it("treats an unknown role as no rights at all", () => {
    expect(can.createSandbox("guest")).toBe(false);
    expect(can.manageOrg("")).toBe(false);
  });
});
