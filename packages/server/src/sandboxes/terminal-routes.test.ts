import type { ControlMessage } from "@fluid/proto";
import { authHeaders, type Caller, databaseKinds, startTestServer, TestDaemon, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";

/** What a client saw on a terminal socket: bytes, control messages, or the refusal of the upgrade. */
interface Session {
  socket: WebSocket;
  bytes(): string;
  texts: unknown[];
  closed: Promise<number>;
}

describe.each(databaseKinds)("terminals over WebSocket (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller & { cookie: string };
  let daemon: TestDaemon;
  let id: string;
  let key: string;

  const ids = (m: ControlMessage) => {
    const value = m.payload.value as { sandboxId: string; terminalId: string };
    return { sandboxId: value.sandboxId, terminalId: value.terminalId };
  };

  beforeEach(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    key = (await t.apiKey(owner, "acme", "admin")).key;
    const token = await t.hostToken(owner, "acme");
    // A scripted host whose terminals echo input and print their size on a resize.
    daemon = await TestDaemon.connect(t.grpcUrl, {
      token: token.token,
      handlers: {
        openTerminal: (m) => {
          setTimeout(
            () => daemon.send({ payload: { case: "terminalOutput", value: { ...ids(m), data: Buffer.from("$ ") } } }),
            5,
          );
          return { case: "terminalOpened", value: ids(m) };
        },
        terminalInput: (m) => {
          const value = m.payload.case === "terminalInput" ? m.payload.value : undefined;
          const text = Buffer.from(value?.data ?? []).toString();
          setTimeout(() => {
            if (text === "exit\r")
              daemon.send({ payload: { case: "terminalClosed", value: { ...ids(m), reason: "exited" } } });
            else daemon.send({ payload: { case: "terminalOutput", value: { ...ids(m), data: Buffer.from(text) } } });
          }, 5);
          return { case: "terminalUpdated", value: ids(m) };
        },
        resizeTerminal: (m) => {
          const value = m.payload.case === "resizeTerminal" ? m.payload.value : undefined;
          setTimeout(() => {
            const data = Buffer.from(`${value?.rows} ${value?.cols}\n`);
            daemon.send({ payload: { case: "terminalOutput", value: { ...ids(m), data } } });
          }, 5);
          return { case: "terminalUpdated", value: ids(m) };
        },
        closeTerminal: (m) => ({ case: "terminalClosed", value: { ...ids(m), reason: "closed" } }),
      },
    });
    const created = await t.call("POST", "/v1/orgs/acme/sandboxes", { as: owner, body: { source_vm: "debian-12" } });
    id = created.body.id;
  });

  afterEach(async () => {
    daemon.abort();
    await t.close();
  });

  const url = (query = "cols=100&rows=30", sandbox = id) =>
    `${t.restUrl.replace(/^http/, "ws")}/v1/orgs/acme/sandboxes/${sandbox}/terminal?${query}`;

  /** Opens a terminal socket; resolves once open, or rejects with the HTTP status of a refused upgrade. */
  const open = (headers: Record<string, string>, query?: string, sandbox?: string) =>
    new Promise<Session>((resolve, reject) => {
      const socket = new WebSocket(url(query, sandbox), { headers });
      const chunks: Buffer[] = [];
      const texts: unknown[] = [];
      const closed = new Promise<number>((done) => socket.on("close", (code) => done(code)));
      socket.on("message", (data: Buffer, isBinary) => {
        if (isBinary) chunks.push(data);
        else texts.push(JSON.parse(data.toString()));
      });
      socket.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => reject(Object.assign(new Error(body), { status: res.statusCode, body: JSON.parse(body) })));
      });
      socket.on("open", () => resolve({ socket, bytes: () => Buffer.concat(chunks).toString(), texts, closed }));
      socket.on("error", () => undefined);
    });

  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  };

  it("relays bytes both ways, resizes on a control frame, and says exit when the shell ends", async () => {
    const s = await open({ authorization: `Bearer ${key}` });
    await until(() => s.bytes() === "$ ");
    s.socket.send(Buffer.from("ls\r"));
    await until(() => s.bytes() === "$ ls\r");
    s.socket.send(JSON.stringify({ type: "resize", cols: 132, rows: 50 }));
    await until(() => s.bytes().endsWith("50 132\n"));
    s.socket.send(Buffer.from("exit\r"));
    expect(await s.closed).toBe(1000);
    expect(s.texts).toEqual([{ type: "exit" }]);
    const open0 = daemon.commands("openTerminal")[0];
    expect(open0?.payload.case === "openTerminal" && open0.payload.value).toMatchObject({
      sandboxId: id,
      cols: 100,
      rows: 30,
    });
  });

  it("audits sandbox.terminal_opened with the terminal's id and size", async () => {
    const s = await open({ authorization: `Bearer ${key}` });
    s.socket.close();
    const res = await t.call("GET", "/v1/orgs/acme/audit", { as: owner, query: { target_id: id, limit: "50" } });
    const opened = (res.body.events as Array<{ action: string; details: Record<string, unknown> }>).find(
      (event) => event.action === "sandbox.terminal_opened",
    );
    const sent = daemon.commands("openTerminal")[0];
    const terminalId = sent?.payload.case === "openTerminal" ? sent.payload.value.terminalId : "";
    expect(opened?.details).toEqual({ terminal_id: terminalId, cols: 100, rows: 30 });
  });

  it("hangs the terminal up on the host when the client goes away", async () => {
    const s = await open({ authorization: `Bearer ${key}` });
    s.socket.close();
    await until(() => daemon.commands("closeTerminal").length === 1);
  });

  it("refuses an upgrade without credentials (401), a bad size (400) and an unknown sandbox (404) before opening anything", async () => {
    await expect(open({})).rejects.toMatchObject({ status: 401 });
    await expect(open({ authorization: `Bearer ${key}` }, "cols=0&rows=24")).rejects.toMatchObject({
      status: 400,
      body: { error: { code: "invalid_request" } },
    });
    await expect(open({ authorization: `Bearer ${key}` }, "cols=80&rows=1001")).rejects.toMatchObject({ status: 400 });
    await expect(
      open({ authorization: `Bearer ${key}` }, undefined, "01a248f6-0000-7000-8000-000000000000"),
    ).rejects.toMatchObject({ status: 404 });
    expect(daemon.commands("openTerminal")).toEqual([]);
  });

  it("refuses a member who did not create the sandbox (403), and a cookie upgrade from another origin", async () => {
    const other = await t.user("other@example.com");
    await t.member(owner, "acme", other, "member");
    await expect(open(authHeaders(other))).rejects.toMatchObject({ status: 403 });
    await expect(open({ ...authHeaders(owner), origin: "https://evil.example" })).rejects.toMatchObject({
      status: 403,
    });
    const s = await open(authHeaders(owner));
    s.socket.close();
    expect(daemon.commands("openTerminal")).toHaveLength(1);
  });

  it("passes the host's no_capacity refusal on as an HTTP error, before any upgrade", async () => {
    daemon.handlers.openTerminal = () => ({ error: "a sandbox has at most 4 terminals open", code: "no_capacity" });
    await expect(open({ authorization: `Bearer ${key}` })).rejects.toMatchObject({
      body: { error: { code: "no_capacity" } },
    });
  });

  it("a plain GET (no upgrade) is refused with invalid_request", async () => {
    const res = await t.call("GET", `/v1/orgs/acme/sandboxes/${id}/terminal`, { as: owner });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
  });
});
