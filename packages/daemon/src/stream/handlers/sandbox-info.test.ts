import { afterEach, describe, expect, it } from "vitest";
import { fakeSandboxHost } from "../../testing/fake-sandbox-host.js";
import { sandboxInfo } from "./sandbox-info.js";

describe("sandboxInfo", () => {
  let host: Awaited<ReturnType<typeof fakeSandboxHost>>;
  afterEach(() => host.close());

  it("names the bridge the sandbox's attachment records, the default for older records, none in user mode", async () => {
    host = await fakeSandboxHost();
    const bridged = (id: string, bridge?: string) =>
      host.insert({
        id,
        tap: `tap-${id}`,
        network: JSON.stringify({
          mode: "bridge",
          mac: "52:54:00:00:00:02",
          qemuArgs: [],
          ...(bridge ? { bridge } : {}),
        }),
      });
    expect(sandboxInfo(await bridged("s1", "br-e2e")).bridge).toBe("br-e2e");
    expect(sandboxInfo(await bridged("s2")).bridge).toBe("fluid0");
    expect(sandboxInfo(await host.insert({ id: "s3", tap: null })).bridge).toBe("");
  });
});
