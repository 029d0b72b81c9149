import { describe, expect, it } from "vitest";
import { type ExecEvent, FluidError, HostUnavailableError, NotFoundError, streamExec } from "./index.js";
import { clientAnswering, collect } from "./ndjson.fixtures.js";

const request = { org: "acme", sandbox: "00000000-0000-4000-8000-000000000001", command: "make" };
const exitLine = `${JSON.stringify({
  type: "exit",
  command_id: "00000000-0000-4000-8000-000000000002",
  status: "completed",
  exit_code: 2,
  duration_ms: 10,
  stdout_truncated: false,
  stderr_truncated: false,
  live: true,
})}\n`;

describe("streamExec", () => {
  it("yields output decoded to bytes, then the exit, however the lines fall across reads", async () => {
    const output = JSON.stringify({
      type: "output",
      stream: "stdout",
      data: Buffer.from([0xff, 0x0a]).toString("base64"),
    });
    const body = `{"type":"started","command_id":"00000000-0000-4000-8000-000000000002"}\n${output}\n${exitLine}`;
    const client = clientAnswering(200, [body.slice(0, 7), body.slice(7, 80), body.slice(80)]);
    const events = await collect(streamExec(client, request));
    expect(events.map((e) => e.type)).toEqual(["started", "output", "exit"]);
    expect(events[1]).toEqual({ type: "output", stream: "stdout", data: new Uint8Array([0xff, 0x0a]) });
    expect(events[2]).toMatchObject({ type: "exit", exitCode: 2, status: "completed", live: true });
  });

  it("throws the error class of an error event once the output before it is yielded", async () => {
    const output = JSON.stringify({ type: "output", stream: "stderr", data: Buffer.from("x").toString("base64") });
    const failure = JSON.stringify({ type: "error", error: { code: "host_unavailable", message: "host went away" } });
    const client = clientAnswering(200, [`${output}\n${failure}\n`]);
    const seen: ExecEvent[] = [];
    const consume = async () => {
      for await (const event of streamExec(client, request)) seen.push(event);
    };
    await expect(consume()).rejects.toBeInstanceOf(HostUnavailableError);
    expect(seen.map((e) => e.type)).toEqual(["output"]);
  });

  it("throws the FluidError subclass for an error reply before the command starts", async () => {
    const client = clientAnswering(
      404,
      [JSON.stringify({ error: { code: "not_found", message: "sandbox not found" } })],
      "application/json",
    );
    await expect(collect(streamExec(client, request))).rejects.toBeInstanceOf(NotFoundError);
  });

  it("throws when the stream ends without an exit event", async () => {
    const client = clientAnswering(200, ['{"type":"started","command_id":"00000000-0000-4000-8000-000000000002"}\n']);
    await expect(collect(streamExec(client, request))).rejects.toBeInstanceOf(FluidError);
  });
});
