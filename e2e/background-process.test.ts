import { createClient, followProcessLog, type ProcessLogEvent } from "@fluid/sdk";
import { describe, expect, it } from "vitest";
import { useTinySandbox } from "./lib/tiny-sandbox.js";
import { until } from "./lib/wait.js";

/** Polls `get` until it answers something, for up to 60 s (TCG guests on a loaded host are slow). */
async function eventually<T>(get: () => Promise<T | undefined>): Promise<T> {
  let found: T | undefined;
  await until(
    async () => {
      found = await get();
      return found !== undefined;
    },
    60_000,
    250,
  );
  return found as T;
}

describe("background processes against a real server, daemon and tiny VM", () => {
  const tiny = useTinySandbox();

  const cli = (...args: string[]) => tiny.host.cli(...args);

  const path = (rest = "") => `/v1/orgs/acme/sandboxes/${tiny.id}/processes${rest}`;

  const waitExited = (pid: string) =>
    eventually(async () => {
      const res = await tiny.server.call("GET", path(`/${pid}`), { key: tiny.key });
      return res.body.state === "exited" ? res.body : undefined;
    });

  it("a process started through the CLI runs on after the CLI exits, and its log and exit code are read afterwards", async () => {
    const start = await cli(
      "sandbox",
      "process",
      "start",
      tiny.id,
      "--name",
      "count",
      "--",
      "sh -c 'for i in 1 2 3; do echo $i; sleep 1; done; exit 4'",
    );
    expect(start.code).toBe(0);
    const pid = start.stdout.trim();
    const exited = await waitExited(pid);
    expect(exited).toMatchObject({ name: "count", state: "exited", exit_code: 4 });
    const log = await cli("sandbox", "process", "logs", tiny.id, pid, "--follow");
    expect({ code: log.code, stdout: log.stdout }).toEqual({ code: 4, stdout: "1\n2\n3\n" });
    const audit = await tiny.server.call("GET", `/v1/orgs/acme/audit?target_id=${tiny.id}&limit=50`, { key: tiny.key });
    const started = (audit.body.events as Array<{ action: string; details: { process_id?: string } }>).find(
      (event) => event.action === "sandbox.process_started",
    );
    expect(started?.details.process_id).toBe(pid);
  });

  it("REST: a log read from an offset starts there", async () => {
    const started = await tiny.server.call("POST", path(), { key: tiny.key, body: { command: "echo abcdef" } });
    expect(started.status).toBe(201);
    await waitExited(started.body.id);
    const log = await tiny.server.call("GET", path(`/${started.body.id}/logs?offset=3`), { key: tiny.key });
    expect(Buffer.from(log.body.stdout, "base64").toString()).toBe("def\n");
    expect(log.body.next_offset).toBe(7);
  });

  it("the SDK follows a running process's log: output arrives while it runs, then its exit", async () => {
    const started = await tiny.server.call("POST", path(), {
      key: tiny.key,
      body: { command: "for i in 1 2; do echo $i; sleep 2; done" },
    });
    expect(started.status).toBe(201);
    const client = createClient({ baseUrl: tiny.server.url, apiKey: tiny.key });
    const events: ProcessLogEvent[] = [];
    let firstOutputAt = 0;
    for await (const event of followProcessLog(client, { org: "acme", sandbox: tiny.id, process: started.body.id })) {
      if (event.type === "output") firstOutputAt ||= Date.now();
      events.push(event);
    }
    const endedAt = Date.now();
    const text = events.map((event) => (event.type === "output" ? Buffer.from(event.data).toString() : "")).join("");
    expect(text).toBe("1\n2\n");
    expect(events.at(-1)).toMatchObject({ type: "exit", process: { state: "exited", exit_code: 0 } });
    expect(endedAt - firstOutputAt).toBeGreaterThan(1_500);
  });

  it("stdin written to a cat-like process is echoed to its log", async () => {
    const started = await tiny.server.call("POST", path(), { key: tiny.key, body: { command: "cat" } });
    const pid = started.body.id as string;
    const wrote = await cli("sandbox", "process", "stdin", tiny.id, pid, "--data", "hello\n");
    expect(wrote.code).toBe(0);
    const echoed = await eventually(async () => {
      const log = await tiny.server.call("GET", path(`/${pid}/logs`), { key: tiny.key });
      const text = Buffer.from(log.body.stdout, "base64").toString();
      return text === "hello\n" ? text : undefined;
    });
    expect(echoed).toBe("hello\n");
    await tiny.server.call("POST", path(`/${pid}/signal`), { key: tiny.key, body: { signal: "KILL" } });
  });

  it("a signal ends a sleeping process with 128 + the signal's number, and is audited", async () => {
    const started = await tiny.server.call("POST", path(), { key: tiny.key, body: { command: "sleep 300" } });
    const pid = started.body.id as string;
    const kill = await cli("sandbox", "process", "kill", tiny.id, pid, "--signal", "TERM");
    expect(kill.code).toBe(0);
    const waited = await cli("sandbox", "process", "wait", tiny.id, pid);
    expect(waited.code).toBe(143);
    expect(await waitExited(pid)).toMatchObject({ state: "exited", exit_code: 143 });
    const audit = await tiny.server.call("GET", `/v1/orgs/acme/audit?target_id=${tiny.id}&limit=50`, { key: tiny.key });
    const signalled = (audit.body.events as Array<{ action: string; details: unknown }>).find(
      (event) => event.action === "sandbox.process_signalled",
    );
    expect(signalled?.details).toEqual({ process_id: pid, signal: "TERM" });
  });
});
