import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  CommandOutputSchema,
  HostMessageSchema,
  RunCommandCommandSchema,
  TerminalClosedSchema,
  TerminalOutputSchema,
} from "@fluid/proto";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import { CommandTimeoutError, StreamClosedError } from "./errors.js";
import { type Command, HostSession, MAX_PENDING_PER_HOST } from "./host-session.js";

const log = pino({ level: "silent" });
const session = () => new HostSession({ hostId: "h1", orgId: "o1", log, livenessMs: 60_000 });
const run = (command = "true"): Command => ({
  case: "runCommand",
  value: create(RunCommandCommandSchema, { sandboxId: "s1", command }),
});

async function nextSent(s: HostSession) {
  const out = s.outbox();
  const next = await out.next();
  return next.value;
}

describe("HostSession", () => {
  it("routes a reply to the request with the same request_id and clears the pending entry", async () => {
    const s = session();
    const pending = s.request(run("echo a"), 5_000);
    const sent = await nextSent(s);
    expect(sent?.payload.case).toBe("runCommand");
    s.deliver(
      create(HostMessageSchema, {
        requestId: sent?.requestId,
        payload: { case: "commandResult", value: { stdout: "a\n" } },
      }),
    );
    const reply = await pending;
    expect(reply.payload.case === "commandResult" && reply.payload.value.stdout).toBe("a\n");
    expect(s.pendingCount).toBe(0);
  });

  it("hands a command's output pieces to its listener in order without answering the command", async () => {
    const s = session();
    const heard: string[] = [];
    const pending = s.request(run("make"), 5_000, undefined, (o) => heard.push(`${o.stream}:${Buffer.from(o.data)}`));
    const sent = await nextSent(s);
    const requestId = sent?.requestId ?? "";
    const piece = (stream: string, text: string) =>
      create(CommandOutputSchema, { sandboxId: "s1", stream, data: Buffer.from(text) });
    s.output(requestId, piece("stdout", "a"));
    s.output(requestId, piece("stderr", "b"));
    s.output(requestId, piece("stdout", "c"));
    s.output("another-request", piece("stdout", "not mine"));
    expect(s.pendingCount).toBe(1);
    s.deliver(create(HostMessageSchema, { requestId, payload: { case: "commandResult", value: { exitCode: 0 } } }));
    await pending;
    expect(heard).toEqual(["stdout:a", "stderr:b", "stdout:c"]);
  });

  it("turns an ErrorReport into a HostCommandError carrying the host's code", async () => {
    const s = session();
    const pending = s.request(run(), 5_000);
    const sent = await nextSent(s);
    s.deliver(
      create(HostMessageSchema, {
        requestId: sent?.requestId,
        payload: { case: "errorReport", value: { error: "no such sandbox", code: "not_found" } },
      }),
    );
    await expect(pending).rejects.toMatchObject({ name: "HostCommandError", hostCode: "not_found" });
  });

  it("tells its observer each command's kind when sent and its one outcome: ok, host_error, timeout, stream_closed", async () => {
    const seen: string[] = [];
    const s = new HostSession({
      hostId: "h1",
      orgId: "o1",
      log,
      livenessMs: 60_000,
      observe: (kind) => {
        seen.push(`sent ${kind}`);
        return (outcome) => seen.push(`${kind} ${outcome}`);
      },
    });
    const out = s.outbox();
    const answer = async (payload: MessageInitShape<typeof HostMessageSchema>["payload"]) => {
      const sent = (await out.next()).value;
      s.deliver(create(HostMessageSchema, { requestId: sent?.requestId, payload }));
    };
    const ok = s.request(run(), 5_000);
    await answer({ case: "commandResult", value: { stdout: "" } });
    await ok;
    const failed = s.request(run(), 5_000);
    await answer({ case: "errorReport", value: { error: "gone", code: "not_found" } });
    await expect(failed).rejects.toThrow("gone");
    await expect(s.request(run(), 20)).rejects.toBeInstanceOf(CommandTimeoutError);
    const cut = s.request(run(), 5_000);
    s.close(new StreamClosedError("host_disconnected"));
    await expect(cut).rejects.toBeInstanceOf(StreamClosedError);
    expect(seen).toEqual([
      "sent runCommand",
      "runCommand ok",
      "sent runCommand",
      "runCommand host_error",
      "sent runCommand",
      "runCommand timeout",
      "sent runCommand",
      "runCommand stream_closed",
    ]);
  });

  it("pending-request-deleted-on-all-exit-paths: a timed-out request is rejected and forgotten", async () => {
    const s = session();
    await expect(s.request(run(), 20)).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(s.pendingCount).toBe(0);
  });

  it("progress from the host restarts a command's deadline; a command that stops progressing still times out", async () => {
    const s = session();
    const outcome = s.request(run(), 100).then(
      () => "replied",
      (err: unknown) => err,
    );
    const sent = await nextSent(s);
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 60));
      s.progressed(sent?.requestId ?? "");
    }
    // 240 ms in, past the 100 ms deadline, and still waiting.
    const now = await Promise.race([outcome, new Promise((resolve) => setImmediate(() => resolve("waiting")))]);
    expect(now).toBe("waiting");
    expect(await outcome).toBeInstanceOf(CommandTimeoutError);
    expect(s.pendingCount).toBe(0);
  });

  it("late-or-duplicate-responses-handled: a reply after the timeout is dropped, not delivered twice", async () => {
    const s = session();
    const pending = s.request(run(), 20);
    const sent = await nextSent(s);
    await expect(pending).rejects.toBeInstanceOf(CommandTimeoutError);
    const late = create(HostMessageSchema, {
      requestId: sent?.requestId,
      payload: { case: "commandResult", value: {} },
    });
    expect(s.deliver(late)).toBe(false);
    expect(s.deliver(late)).toBe(false);
  });

  it("send-and-wait-fails-fast-on-disconnect: closing fails every in-flight request at once with the reason", async () => {
    const s = session();
    const a = s.request(run(), 60_000);
    const b = s.request(run(), 60_000);
    const started = Date.now();
    s.close(new StreamClosedError("host_disconnected"));
    await expect(a).rejects.toMatchObject({ reason: "host_disconnected" });
    await expect(b).rejects.toMatchObject({ reason: "host_disconnected" });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(s.pendingCount).toBe(0);
    await expect(s.request(run(), 60_000)).rejects.toMatchObject({ reason: "host_disconnected" });
  });

  it("send-and-wait-bounded-pending: past the in-flight limit new requests fail fast", async () => {
    const s = session();
    const inFlight = Array.from({ length: MAX_PENDING_PER_HOST }, () =>
      s.request(run(), 60_000).catch(() => undefined),
    );
    await expect(s.request(run(), 60_000)).rejects.toBeInstanceOf(AppError);
    s.close(new StreamClosedError("server_shutdown"));
    await Promise.all(inFlight);
  });

  it("stream-send-serialized-per-host: the outbox yields commands one at a time in send order", async () => {
    const s = session();
    for (let i = 0; i < 50; i++) s.request(run(`echo ${i}`), 60_000).catch(() => undefined);
    const out = s.outbox();
    const order: string[] = [];
    for (let i = 0; i < 50; i++) {
      const next = await out.next();
      if (next.value?.payload.case === "runCommand") order.push(next.value.payload.value.command);
    }
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => `echo ${i}`));
    s.close(new StreamClosedError("server_shutdown"));
  });

  it("ends the outbox cleanly when the host disconnects, and with an error for other reasons", async () => {
    const clean = session();
    const out = clean.outbox();
    const waiting = out.next();
    clean.close(new StreamClosedError("host_disconnected"));
    expect((await waiting).done).toBe(true);

    const revoked = session();
    revoked.close(new StreamClosedError("token_revoked"));
    await expect(revoked.outbox().next()).rejects.toMatchObject({ code: 16 });
  });

  it("stale-host-evicted-after-missed-heartbeats: silence for the liveness window closes the session", async () => {
    const s = new HostSession({ hostId: "h1", orgId: "o1", log, livenessMs: 50 });
    const pending = s.request(run(), 60_000);
    await expect(pending).rejects.toMatchObject({ reason: "heartbeat_timeout" });
    expect(s.closed?.reason).toBe("heartbeat_timeout");
  });

  it("touch() keeps a talking host alive past the liveness window", async () => {
    const s = new HostSession({ hostId: "h1", orgId: "o1", log, livenessMs: 80 });
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 40));
      s.touch();
    }
    expect(s.closed).toBeUndefined();
    s.close(new StreamClosedError("server_shutdown"));
  });

  it("routes terminal output and end by terminal id, and ends open terminals when the stream closes", () => {
    const s = session();
    const seen: string[] = [];
    const watcher = (name: string) => ({
      output: (data: Uint8Array) => seen.push(`${name}:${Buffer.from(data).toString()}`),
      closed: (reason: string) => seen.push(`${name} closed ${reason}`),
    });
    s.watchTerminal("t1", watcher("t1"));
    s.watchTerminal("t2", watcher("t2"));
    s.terminalOutput(create(TerminalOutputSchema, { terminalId: "t1", data: Buffer.from("$ ") }));
    s.terminalOutput(create(TerminalOutputSchema, { terminalId: "other", data: Buffer.from("x") }));
    s.terminalClosed(create(TerminalClosedSchema, { terminalId: "t1", reason: "exited" }));
    s.terminalOutput(create(TerminalOutputSchema, { terminalId: "t1", data: Buffer.from("late") }));
    s.close(new StreamClosedError("host_disconnected"));
    expect(seen).toEqual(["t1:$ ", "t1 closed exited", "t2 closed host_disconnected"]);
  });
});
