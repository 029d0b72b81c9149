import type { Organization } from "@fluid/sdk";
import { act } from "react";
import { describe, expect, it, vi } from "vitest";
import { useMountedRoot } from "../../lib/mount.fixtures";
import { Admin } from "./Admin";

// The page's own logic is under test, not the network: list calls answer empty.
vi.mock("../../lib/api", () => ({
  api: { GET: vi.fn(async () => ({ data: { members: [], api_keys: [] }, response: new Response("{}") })) },
  unwrap: async (call: Promise<{ data: unknown }>) => (await call).data,
  errorMessage: String,
}));

const org = (role: string): Organization => ({
  id: "o1",
  name: "Acme",
  slug: "acme",
  owner_id: "u0",
  allow_self_approval: false,
  role: role as Organization["role"],
  created_at: "2026-12-01T00:00:00Z",
});

describe("Admin page controls by role", () => {
  const view = useMountedRoot();

  it("gives an admin the API key form", async () => {
    await act(async () => view.root.render(<Admin org={org("admin")} userId="u1" />));
    const buttons = [...view.container.querySelectorAll("button")].map((b) => b.textContent);
    expect(buttons).toContain("Create API key");
  });

  it("gives a member no management controls, only an explanation", async () => {
    await act(async () => view.root.render(<Admin org={org("member")} userId="u1" />));
    expect(view.container.querySelector("form")).toBeNull();
    expect(view.container.textContent).toContain("Only admins of Acme manage members and keys.");
  });
});
