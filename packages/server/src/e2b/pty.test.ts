import type { ControlMessage } from "@fluid/proto";
import { databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envelope } from "./connect.js";

/** Reads Connect envelopes off a streaming response as they arrive. */
async function* envelopes(body: ReadableStream<Uint8Array>): AsyncGenerator<{ flags: number; message: any }> {
  let buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 5 && buffer.length >= 5 + buffer.readUInt32BE(1)) {
      const length = buffer.readUInt32BE(1);
      yield { flags: buffer.readUInt8(0), message: JSON.parse(buffer.subarray(5, 5 + length).toString()) };
      buffer = buffer.subarray(5 + length);
    }
  }
}

describe.each(databaseKinds)("E2B pty onto fluid terminals (%s)", (kind) => {
  let t: TestServer;
  let daemon: TestDaemon;
  let key: string;
  let id: string;

  const ids = (m: ControlMessage) => {
    const value = m.payload.value as { sandboxId: string; terminalId: string };
    return { sandboxId: value.sandboxId, terminalId: value.terminalId };
  };

  beforeAll(async () => {
    t = await startTestServer(kind);
    const owner = await t.fastUser("pty-owner");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    const token = await t.hostToken(owner, "acme");
    // A host whose terminals echo what is typed.
    daemon = await TestDaemon.connect(t.grpcUrl, {
      token: token.token,
      handlers: {
        openTerminal: (m) => ({ case: "terminalOpened", value: ids(m) }),
        terminalInput: (m) => {
          const data = m.payload.case === "terminalInput" ? m.payload.value.data : new Uint8Array();
          setTimeout(() => daemon.send({ payload: { case: "terminalOutput", value: { ...ids(m), data } } }), 5);
          return { case: "terminalUpdated", value: ids(m) };
        },
        resizeTerminal: (m) => ({ case: "terminalUpdated", value: ids(m) }),
        closeTerminal: (m) => ({ case: "terminalClosed", value: { ...ids(m), reason: "closed" } }),
      },
    });
    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", {
      headers: { authorization: `Bearer ${key}` },
      body: { source_vm: "debian-12" },
    });
    id = created.body.id;
  });

  afterAll(async () => {
    daemon?.abort();
    await t?.close();
  });

  const headers = () => ({ "x-access-token": key, "e2b-sandbox-id": id });
  const unary = (method: string, body: unknown) =>
    t.call("POST", `/e2b/envd/process.Process/${method}`, { headers: headers(), body });

  it("pty.create opens a terminal of the asked size; input, resize and kill go to it; the stream ends", async () => {
    const response = await fetch(`${t.restUrl}/e2b/envd/process.Process/Start`, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/connect+json" },
      body: envelope(0, { process: { cmd: "/bin/bash", args: ["-i", "-l"] }, pty: { size: { cols: 100, rows: 30 } } }),
    });
    expect(response.status).toBe(200);
    const events = envelopes(response.body as ReadableStream<Uint8Array>);
    const start = (await events.next()).value;
    const pid = start?.message.event.start.pid as number;
    expect(pid).toBeGreaterThan(0);
    const opened = daemon.commands("openTerminal")[0];
    expect(opened?.payload.case === "openTerminal" && opened.payload.value).toMatchObject({ cols: 100, rows: 30 });

    expect(
      (await unary("SendInput", { process: { pid }, input: { pty: Buffer.from("ls\r").toString("base64") } })).status,
    ).toBe(200);
    const data = (await events.next()).value;
    expect(Buffer.from(data?.message.event.data.pty, "base64").toString()).toBe("ls\r");

    expect((await unary("Update", { process: { pid }, pty: { size: { cols: 132, rows: 50 } } })).status).toBe(200);
    const resized = daemon.commands("resizeTerminal")[0];
    expect(resized?.payload.case === "resizeTerminal" && resized.payload.value).toMatchObject({ cols: 132, rows: 50 });

    expect((await unary("SendSignal", { process: { pid }, signal: "SIGNAL_SIGKILL" })).status).toBe(200);
    expect(daemon.commands("closeTerminal")).toHaveLength(1);
    const end = (await events.next()).value;
    expect(end?.message.event.end).toMatchObject({ exited: true });
    expect((await events.next()).value?.flags).toBe(2);
  });

  it("refuses a pty running a program other than the login shell", async () => {
    const response = await fetch(`${t.restUrl}/e2b/envd/process.Process/Start`, {
      method: "POST",
      headers: { ...headers(), "content-type": "application/connect+json" },
      body: envelope(0, { process: { cmd: "/usr/bin/top", args: [] }, pty: { size: { cols: 80, rows: 24 } } }),
    });
    const all = [];
    for await (const item of envelopes(response.body as ReadableStream<Uint8Array>)) all.push(item);
    expect(all.at(-1)?.message.error.code).toBe("unimplemented");
    expect(daemon.commands("openTerminal")).toHaveLength(1);
  });
});
