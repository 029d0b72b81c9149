import { describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.fixtures.js";
import { listSandboxFiles, readSandboxFile, writeSandboxFile } from "./sandbox-files.js";

const SANDBOX = "7f3c1e8a-0000-4000-8000-000000000002";

describe("sandbox file calls", () => {
  it("reads a file as bytes and says whether it was cut", async () => {
    const content = Buffer.from([0, 1, 2, 255]);
    const { conn, calls } = fakeServer(() => ({
      body: { path: "/bin/x", content_base64: content.toString("base64"), truncated: true },
    }));
    const file = await readSandboxFile(conn, SANDBOX, "/bin/x");
    expect(file.bytes.equals(content)).toBe(true);
    expect(file.truncated).toBe(true);
    expect(calls[0]).toMatchObject({
      method: "GET",
      path: `/v1/orgs/acme/sandboxes/${SANDBOX}/files`,
      query: { path: "/bin/x" },
    });
  });

  it("writes base64 content, with the mode only when one is given", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { path: "/etc/motd", size: 2 } }));
    await writeSandboxFile(conn, SANDBOX, { path: "/etc/motd", content: Buffer.from("hi") });
    await writeSandboxFile(conn, SANDBOX, { path: "/run.sh", content: Buffer.from("hi"), mode: "0755" });
    expect(calls.map((c) => [c.method, c.body])).toEqual([
      ["PUT", { path: "/etc/motd", content_base64: "aGk=" }],
      ["PUT", { path: "/run.sh", content_base64: "aGk=", mode: "0755" }],
    ]);
  });

  it("lists a directory by path", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { path: "/etc", entries: [{ name: "hosts" }] } }));
    expect((await listSandboxFiles(conn, SANDBOX, "/etc")).entries).toEqual([{ name: "hosts" }]);
    expect(calls[0]).toMatchObject({ path: `/v1/orgs/acme/sandboxes/${SANDBOX}/files/list`, query: { path: "/etc" } });
  });
});
