import { describe, expect, it } from "vitest";
import { useTinySandbox } from "./lib/tiny-sandbox.js";

/** Three lines a second apart, then a line on stderr: streaming shows the first long before the end. */
const SLOW_LINES = "for i in 1 2 3; do echo line $i; sleep 1; done; echo done >&2; exit 5";

interface Timed<T> {
  at: number;
  value: T;
}

describe("streaming exec against a real server, daemon and tiny VM", () => {
  const tiny = useTinySandbox();

  /** Posts to the streaming route and records when each NDJSON event arrived. */
  async function streamEvents(command: string): Promise<Timed<Record<string, unknown>>[]> {
    const response = await fetch(`${tiny.server.url}/v1/orgs/acme/sandboxes/${tiny.id}/run/stream`, {
      method: "POST",
      headers: { authorization: `Bearer ${tiny.key}`, "content-type": "application/json" },
      body: JSON.stringify({ command, timeout_seconds: 60 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/x-ndjson");
    const events: Timed<Record<string, unknown>>[] = [];
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
        events.push({ at: Date.now(), value: JSON.parse(pending.slice(0, nl)) });
        pending = pending.slice(nl + 1);
      }
    }
    return events;
  }

  const bytesOf = (events: Timed<Record<string, unknown>>[], stream: string) =>
    Buffer.concat(
      events
        .filter((e) => e.value.type === "output" && e.value.stream === stream)
        .map((e) => Buffer.from(e.value.data as string, "base64")),
    );

  it("REST: a command printing lines a second apart delivers the first line before it ends", async () => {
    const events = await streamEvents(SLOW_LINES);
    const first = events.find((e) => e.value.type === "output");
    const exit = events.at(-1);
    expect(events[0]?.value.type).toBe("started");
    expect(Buffer.from(first?.value.data as string, "base64").toString()).toMatch(/^line 1\n/);
    expect(exit?.value).toMatchObject({ type: "exit", exit_code: 5, status: "completed", live: true });
    expect((exit?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThan(1500);
    expect(bytesOf(events, "stdout").toString()).toBe("line 1\nline 2\nline 3\n");
    expect(bytesOf(events, "stderr").toString()).toBe("done\n");
  });

  it("REST: output bytes that are not UTF-8 arrive unchanged", async () => {
    const events = await streamEvents("printf '\\377\\000\\001\\n'; printf '\\376' >&2");
    expect([...bytesOf(events, "stdout")]).toEqual([0xff, 0x00, 0x01, 0x0a]);
    expect([...bytesOf(events, "stderr")]).toEqual([0xfe]);
  });

  it("REST: the streamed command is recorded in the sandbox's command trail with its output", async () => {
    await streamEvents("echo recorded");
    const history = await tiny.server.call("GET", `/v1/orgs/acme/sandboxes/${tiny.id}/commands`, { key: tiny.key });
    expect(history.body.commands.at(-1)).toMatchObject({
      command: "echo recorded",
      status: "completed",
      stdout: "recorded\n",
      exit_code: 0,
    });
  });

  const cli = (...args: string[]) => tiny.host.cli(...args);

  it("CLI: fluid sandbox exec prints the first line before the command ends", async () => {
    const run = await cli("sandbox", "exec", tiny.id, "--", SLOW_LINES);
    expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({
      code: 5,
      stdout: "line 1\nline 2\nline 3\n",
      stderr: "done\n",
    });
    expect(run.endAt - run.firstAt).toBeGreaterThan(1500);
  });

  it("CLI: fluid sandbox exec --no-stream prints the output only once the command has ended", async () => {
    const run = await cli("sandbox", "exec", "--no-stream", tiny.id, "--", SLOW_LINES);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 5, stdout: "line 1\nline 2\nline 3\n" });
    expect(run.endAt - run.firstAt).toBeLessThan(1000);
  });
});
