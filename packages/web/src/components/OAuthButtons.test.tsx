import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { OAuthButtons } from "./OAuthButtons";

// What the server says it offers is under test, not the network.
const get = vi.hoisted(() => vi.fn());
vi.mock("../lib/api", () => ({ api: { GET: get } }));

describe("OAuthButtons: a sign-in link per configured provider", () => {
  let container: HTMLElement;
  let root: Root;
  beforeEach(() => {
    (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
    container = document.createElement("div");
    document.body.append(container);
    root = createRoot(container);
    get.mockReset();
  });
  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  const render = () =>
    act(async () => {
      root.render(<OAuthButtons />);
    });
  const links = () => [...container.querySelectorAll("a")].map((a) => [a.textContent, a.getAttribute("href")]);

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
    expect(container.innerHTML).toBe("");
  });

  it("shows nothing when the list cannot be fetched", async () => {
    get.mockRejectedValue(new Error("offline"));
    await render();
    expect(container.innerHTML).toBe("");
  });
});
