import { describe, expect, it } from "vitest";
import { orgPath, parseRoute } from "./router";

describe("parseRoute", () => {
  it("maps org pages and a sandbox's detail page", () => {
    expect(parseRoute("/o/acme/hosts")).toEqual({ page: "hosts", org: "acme" });
    expect(parseRoute("/o/acme/sources")).toEqual({ page: "sources", org: "acme" });
    expect(parseRoute("/o/acme/sandboxes/abc")).toEqual({ page: "sandbox", org: "acme", id: "abc" });
    expect(parseRoute("/o/acme/change-requests/cr1")).toEqual({ page: "change-request", org: "acme", id: "cr1" });
    expect(parseRoute("/")).toEqual({ page: "home" });
  });

  it("reads what orgPath writes", () => {
    expect(parseRoute(orgPath("acme", "sandboxes", "abc"))).toEqual({ page: "sandbox", org: "acme", id: "abc" });
  });

  it("calls anything else not-found instead of guessing", () => {
    for (const path of ["/o/acme", "/o/acme/nope", "/o/acme/hosts/x", "/settings"]) {
      expect(parseRoute(path)).toEqual({ page: "not-found" });
    }
  });
});
