import { act } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { useMountedRoot } from "../lib/mount.fixtures";
import { OAuthButtons } from "./OAuthButtons";

// What the server says it offers is under test, not the network.
const get = vi.hoisted(() => vi.fn());
vi.mock("../lib/api", () => ({ api: { GET: get } }));

describe("OAuthButtons: a sign-in link per configured provider", () => {
  const view = useMountedRoot();
  beforeEach(() => {
    get.mockReset();
  });

  const render = () =>
    act(async () => {
      view.root.render(<OAuthButtons />);
    });
  const links = () => [...view.container.querySelectorAll("a")].map((a) => [a.textContent, a.getAttribute("href")]);

  it("shows a link to each provider's start route", async () => {
    get.mockResolvedValue({ data: { providers: ["github", "google"] } });
    await render();
    expect(get).toHaveBeenCalledWith("/v1/auth/providers");
    expect(links()).toEqual([
      ["Sign in with GitHub", "/v1/auth/github"],
      ["Sign in with Google", "/v1/auth/google"],
    ]);
  });

  it("shows nothing when no provider is configured", async () => {
    get.mockResolvedValue({ data: { providers: [] } });
    await render();
    expect(view.container.innerHTML).toBe("");
  });

  it("shows nothing when the list cannot be fetched", async () => {
    get.mockRejectedValue(new Error("offline"));
    await render();
    expect(view.container.innerHTML).toBe("");
  });
});
