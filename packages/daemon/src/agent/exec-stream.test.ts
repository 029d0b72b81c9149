import { describe, expect, it } from "vitest";
import { GuestAgentError } from "./client.js";
import {
  type AgentRequests,
  execStreaming,
  OUTPUT_CHUNK_BYTES,
  type OutputStream,
  POLL_MAX_MS,
} from "./exec-stream.js";

/**
 * A guest agent over in-memory files. `script[i]` runs before poll i (appending output, ending the
 * command); reads keep end of file sticky until a seek, as the guest's stdio does.
 */
class FakeGuest implements AgentRequests {
  readonly files = new Map<string, Buffer>();
  readonly handles = new Map<number, { path: string; pos: number; eof: boolean }>();
  readonly calls: Array<{ command: string; args: Record<string, unknown> | undefined }> = [];
  exitcode: number | undefined;
  dir = "";
  private nextHandle = 1;

  constructor(private readonly script: Array<(g: FakeGuest) => void>) {}

  append(stream: OutputStream, data: string | Buffer): void {
    const path = `${this.dir}/${stream}`;
    this.files.set(path, Buffer.concat([this.files.get(path) ?? Buffer.alloc(0), Buffer.from(data)]));
  }

  async request<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    this.calls.push({ command, args });
    const reply = (value: unknown) => value as T;
    switch (command) {
      case "guest-exec": {
        const arg = args?.arg as string[];
        if (arg[0] === "setsid") {
          this.dir = arg[6] ?? "";
          return reply({ pid: 42 });
        }
        return reply({ pid: 99 });
      }
      case "guest-exec-status": {
        if (args?.pid === 99) return reply({ exited: true, exitcode: 0 });
        this.script.shift()?.(this);
        return reply(this.exitcode === undefined ? { exited: false } : { exited: true, exitcode: this.exitcode });
      }
      case "guest-file-open": {
        const path = args?.path as string;
        if (!this.files.has(path)) throw new GuestAgentError("GenericError", `failed to open file '${path}'`);
        this.handles.set(this.nextHandle, { path, pos: 0, eof: false });
        return reply(this.nextHandle++);
      }
      case "guest-file-read": {
        const handle = this.handles.get(args?.handle as number);
        if (!handle) throw new GuestAgentError("GenericError", "bad handle");
        const file = this.files.get(handle.path) ?? Buffer.alloc(0);
        const data = handle.eof ? Buffer.alloc(0) : file.subarray(handle.pos, handle.pos + (args?.count as number));
        handle.pos += data.length;
        handle.eof ||= handle.pos >= file.length;
        return reply({ count: data.length, "buf-b64": data.toString("base64"), eof: handle.eof });
      }
      case "guest-file-seek": {
        const handle = this.handles.get(args?.handle as number);
        if (handle) Object.assign(handle, { pos: args?.offset as number, eof: false });
        return reply({ position: args?.offset, eof: false });
      }
      default:
        return reply({});
    }
  }
}

async function run(guest: FakeGuest, limits: { maxOutputBytes?: number; timeoutMs?: number } = {}) {
  const pieces: Array<{ stream: OutputStream; data: Buffer }> = [];
  const sleeps: number[] = [];
  const result = await execStreaming(
    guest,
    { command: "cmd", timeoutMs: limits.timeoutMs ?? 60_000, maxOutputBytes: limits.maxOutputBytes ?? 1 << 20 },
    (stream, data) => pieces.push({ stream, data }),
    async (ms) => {
      sleeps.push(ms);
    },
  );
  return { result, pieces, sleeps };
}

const text = (pieces: Array<{ stream: OutputStream; data: Buffer }>, stream: OutputStream) =>
  Buffer.concat(pieces.filter((p) => p.stream === stream).map((p) => p.data)).toString();

describe("execStreaming", () => {
  it("hands on each stream's output in order as the guest's files grow, then the exit code", async () => {
    const guest = new FakeGuest([
      (g) => {
        g.append("stdout", "");
        g.append("stderr", "");
      },
      (g) => g.append("stdout", "one\n"),
      (g) => {
        g.append("stderr", "warn\n");
        g.append("stdout", "two\n");
      },
      (g) => {
        g.append("stdout", "three\n");
        g.exitcode = 7;
      },
    ]);
    const { result, pieces } = await run(guest);
    expect(pieces.map((p) => `${p.stream}:${p.data}`)).toEqual([
      "stdout:one\n",
      "stdout:two\n",
      "stderr:warn\n",
      "stdout:three\n",
    ]);
    expect(result).toMatchObject({ exitCode: 7, stdoutTruncated: false, stderrTruncated: false, timedOut: false });
    expect(result.stdout.length + result.stderr.length).toBe(0);
  });

  it("seeks back to its offset before reading past an end of file it already hit", async () => {
    const guest = new FakeGuest([
      (g) => g.append("stdout", "a"),
      (g) => g.append("stdout", "b"),
      (g) => (g.exitcode = 0),
    ]);
    const { pieces } = await run(guest);
    expect(text(pieces, "stdout")).toBe("ab");
    expect(guest.calls.filter((c) => c.command === "guest-file-seek").map((c) => c.args?.offset)).toContain(1);
  });

  it("passes bytes that are not UTF-8 on unchanged", async () => {
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x0a]);
    const guest = new FakeGuest([
      (g) => {
        g.append("stdout", bytes);
        g.exitcode = 0;
      },
    ]);
    const { pieces } = await run(guest);
    expect(Buffer.concat(pieces.map((p) => p.data)).equals(bytes)).toBe(true);
  });

  it("cuts output into pieces of at most OUTPUT_CHUNK_BYTES", async () => {
    const guest = new FakeGuest([
      (g) => {
        g.append("stdout", Buffer.alloc(OUTPUT_CHUNK_BYTES * 2 + 10, 0x61));
        g.exitcode = 0;
      },
    ]);
    const { pieces } = await run(guest);
    expect(pieces.map((p) => p.data.length)).toEqual([OUTPUT_CHUNK_BYTES, OUTPUT_CHUNK_BYTES, 10]);
  });

  it("stops reading a stream at maxOutputBytes and reports it truncated", async () => {
    const guest = new FakeGuest([
      (g) => {
        g.append("stdout", "0123456789");
        g.append("stderr", "ok");
        g.exitcode = 0;
      },
    ]);
    const { result, pieces } = await run(guest, { maxOutputBytes: 4 });
    expect(text(pieces, "stdout")).toBe("0123");
    expect(text(pieces, "stderr")).toBe("ok");
    expect(result).toMatchObject({ stdoutTruncated: true, stderrTruncated: false });
  });

  it("kills the command's process group once its timeout has passed", async () => {
    const guest = new FakeGuest([
      () => undefined,
      (g) => {
        g.exitcode = 137;
      },
    ]);
    const { result } = await run(guest, { timeoutMs: -1 });
    expect(result.timedOut).toBe(true);
    expect(guest.calls.some((c) => (c.args?.arg as string[] | undefined)?.join(" ") === "kill -KILL -- -42")).toBe(
      true,
    );
  });

  it("polls less often while the command is quiet, up to POLL_MAX_MS", async () => {
    const quiet = Array.from({ length: 12 }, () => () => undefined);
    const guest = new FakeGuest([...quiet, (g) => (g.exitcode = 0)]);
    const { sleeps } = await run(guest);
    expect(sleeps[1]).toBeGreaterThan(sleeps[0] ?? 0);
    expect(Math.max(...sleeps)).toBe(POLL_MAX_MS);
  });

  it("runs the command line as an argument of its wrapper, never inside the wrapper's script", async () => {
    const guest = new FakeGuest([(g) => (g.exitcode = 0)]);
    await run(guest);
    const arg = guest.calls[0]?.args?.arg as string[];
    expect(arg.at(-1)).toBe("cmd");
    expect(arg[4]).not.toContain("cmd");
  });
});
