import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../testing/fake-sandbox-host.js";
import { exec } from "./exec.js";

describe("exec", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("runs in a running sandbox with its timeout and the host's output cap", async () => {
    host = await fakeSandboxHost();
    await host.insert({ id: "s1" });
    await host.insert({ id: "off", state: "STOPPED" });
    expect((await exec(host.ctx, "s1", { command: "true", timeoutSeconds: 5 })).exitCode).toBe(0);
    expect(host.guest.calls).toEqual(["exec true (5000 ms, 1048576 B)"]);
    await expect(exec(host.ctx, "off", { command: "true", timeoutSeconds: 5 })).rejects.toMatchObject({
      code: "invalid_state",
    });
  });
});
