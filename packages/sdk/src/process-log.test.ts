import { describe, expect, it } from "vitest";
import { FluidError, followProcessLog, HostUnavailableError, NotFoundError, type ProcessLogEvent } from "./index.js";
import { clientAnswering, collect } from "./ndjson.fixtures.js";

const request = {
  org: "acme",
  sandbox: "00000000-0000-4000-8000-000000000001",
  process: "00000000-0000-4000-8000-000000000003",
};
const ended = {
  id: request.process,
  name: "build",
  command: "make",
  pid: 41,
  state: "exited",
  exit_code: 0,
  started_at: "2026-12-06T00:00:00.000Z",
  ended_at: "2026-12-06T00:00:01.000Z",
};
const output = (stream: string, bytes: number[]) =>
  `${JSON.stringify({ type: "output", stream, data: Buffer.from(bytes).toString("base64") })}\n`;

describe("followProcessLog", () => {
  it("asks for the follow reply from the given offsets", async () => {
    let asked = "";
    const client = clientAnswering(200, [`${JSON.stringify({ type: "exit", process: ended })}\n`], undefined, (url) => {
      asked = url;
    });
    await collect(followProcessLog(client, { ...request, offset: 10, stderrOffset: 4 }));
    const query = new URL(asked).searchParams;
    expect([query.get("offset"), query.get("stderr_offset"), query.get("follow")]).toEqual(["10", "4", "true"]);
  });

  it("yields output decoded to bytes in order, then the ended process, however the lines fall across reads", async () => {
    const body = `${output("stdout", [0xff, 0x0a])}${output("stderr", [0x41])}${JSON.stringify({ type: "exit", process: ended })}\n`;
    const events = await collect(followProcessLog(clientAnswering(200, [body.slice(0, 9), body.slice(9)]), request));
    expect(events).toEqual<ProcessLogEvent[]>([
      { type: "output", stream: "stdout", data: new Uint8Array([0xff, 0x0a]) },
      { type: "output", stream: "stderr", data: new Uint8Array([0x41]) },
      { type: "exit", process: ended as Extract<ProcessLogEvent, { type: "exit" }>["process"] },
    ]);
  });

  it("throws the error class of an error event once the output before it is yielded", async () => {
    const failure = JSON.stringify({ type: "error", error: { code: "host_unavailable", message: "host went away" } });
    const seen: ProcessLogEvent[] = [];
    const consume = async () => {
      for await (const event of followProcessLog(
        clientAnswering(200, [`${output("stdout", [0x78])}${failure}\n`]),
        request,
      ))
        seen.push(event);
    };
    await expect(consume()).rejects.toBeInstanceOf(HostUnavailableError);
    expect(seen.map((e) => e.type)).toEqual(["output"]);
  });

  it("throws the FluidError subclass of an error reply, and a FluidError when the stream ends before the exit", async () => {
    const missing = clientAnswering(
      404,
      [JSON.stringify({ error: { code: "not_found", message: "process not found" } })],
      "application/json",
    );
    await expect(collect(followProcessLog(missing, request))).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      collect(followProcessLog(clientAnswering(200, [output("stdout", [0x78])]), request)),
    ).rejects.toBeInstanceOf(FluidError);
  });
});
