import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processLimits } from "@fluid/proto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GuestAgentError } from "../agent/client.js";
import type { AgentRequests } from "../agent/exec-stream.js";
import { type DaemonDatabase, openDaemonDatabase } from "../state/database.js";
import { listProcesses, readProcessLog, signalProcess, startProcess, writeProcessInput } from "./processes.js";

/**
 * A guest agent over in-memory files whose wrapper records pid 321 (and its stdin holder, 322) as
 * soon as it is started; closing stdin removes the holder's file as the guest's close script does.
 */
class FakeGuest implements AgentRequests {
  readonly files = new Map<string, Buffer>();
  readonly execs: string[][] = [];
  private closed = false;
  private readonly handles = new Map<number, { path: string; pos: number }>();
  private nextHandle = 1;

  async request<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    const reply = (value: unknown) => value as T;
    switch (command) {
      case "guest-exec": {
        const arg = args?.arg as string[];
        this.execs.push(arg);
        if (arg[0] === "setsid") {
          this.files.set(`${arg[6]}/pid`, Buffer.from("321\n"));
          this.files.set(`${arg[6]}/holder`, Buffer.from("322\n"));
        }
        if (arg[3] === "fluid-close") this.closed = this.files.delete(`${arg[4]}/holder`);
        return reply({ pid: 7 });
      }
      case "guest-exec-status":
        return reply({ exited: true, exitcode: this.closed ? 0 : 1 });
      case "guest-file-open": {
        const path = args?.path as string;
        if (args?.mode === "w") this.files.set(path, Buffer.alloc(0));
        else if (!this.files.has(path)) throw new GuestAgentError("GenericError", `failed to open file '${path}'`);
        this.handles.set(this.nextHandle, { path, pos: 0 });
        return reply(this.nextHandle++);
      }
      case "guest-file-seek": {
        const handle = this.handles.get(args?.handle as number);
        if (handle) handle.pos = args?.offset as number;
        return reply({});
      }
      case "guest-file-read": {
        const handle = this.handles.get(args?.handle as number);
        const file = this.files.get(handle?.path ?? "") ?? Buffer.alloc(0);
        const data = file.subarray(handle?.pos ?? 0, (handle?.pos ?? 0) + (args?.count as number));
        if (handle) handle.pos += data.length;
        return reply({
          count: data.length,
          "buf-b64": data.toString("base64"),
          eof: (handle?.pos ?? 0) >= file.length,
        });
      }
      case "guest-file-write": {
        const handle = this.handles.get(args?.handle as number);
        const data = Buffer.from(args?.["buf-b64"] as string, "base64");
        this.files.set(
          handle?.path ?? "",
          Buffer.concat([this.files.get(handle?.path ?? "") ?? Buffer.alloc(0), data]),
        );
        return reply({ count: data.length, eof: false });
      }
      default:
        return reply({});
    }
  }
}

const dir = "/run/fluid/proc/p1";
let state: DaemonDatabase;
let guest: FakeGuest;
const host = () => ({ db: state.db, agent: async () => guest });
const start = () =>
  startProcess(host(), { sandboxId: "sbx", processId: "p1", name: "loop", command: "sleep 300", env: {} });

beforeEach(async () => {
  state = await openDaemonDatabase(":memory:");
  guest = new FakeGuest();
});
afterEach(() => state.close());

describe("background processes", () => {
  it("starts the command as an argument of the wrapper and records the pid the wrapper wrote", async () => {
    const row = await start();
    expect(row).toMatchObject({ id: "p1", sandbox_id: "sbx", name: "loop", pid: 321, state: "running" });
    expect(guest.execs[0]?.slice(5, 8)).toEqual(["fluid-proc", dir, "sleep 300"]);
  });

  it("records the exit status the wrapper wrote when the process is listed", async () => {
    await start();
    guest.files.set(`${dir}/exit`, Buffer.from("3\n"));
    const [row] = await listProcesses(host(), "sbx");
    expect(row).toMatchObject({ state: "exited", exit_code: 3 });
  });

  it("reads each log stream from its offset and says where the next read starts", async () => {
    await start();
    guest.files.set(`${dir}/stdout`, Buffer.from("1\n2\n3\n"));
    guest.files.set(`${dir}/stderr`, Buffer.from("oops\n"));
    const log = await readProcessLog(host(), {
      sandboxId: "sbx",
      processId: "p1",
      stdoutOffset: 2,
      stderrOffset: 0,
      maxBytes: 0,
    });
    expect(log.stdout.toString()).toBe("2\n3\n");
    expect(log.stderr.toString()).toBe("oops\n");
    expect([log.stdoutOffset, log.stderrOffset]).toEqual([6, 5]);
  });

  it("writes stdin to the process's FIFO", async () => {
    await start();
    const written = await writeProcessInput(host(), { sandboxId: "sbx", processId: "p1", data: Buffer.from("hi\n") });
    expect(written).toBe(3);
    expect(guest.files.get(`${dir}/stdin`)?.toString()).toBe("hi\n");
  });

  it("closes stdin by ending the holder through a fixed script, after which writes are refused", async () => {
    await start();
    await writeProcessInput(host(), { sandboxId: "sbx", processId: "p1", data: Buffer.alloc(0), close: true });
    expect(guest.execs.at(-1)?.slice(3)).toEqual(["fluid-close", dir]);
    await expect(
      writeProcessInput(host(), { sandboxId: "sbx", processId: "p1", data: Buffer.from("x") }),
    ).rejects.toThrow(/stdin is closed/);
  });

  it("signals the process group with kill as an argument vector", async () => {
    await start();
    await signalProcess(host(), { sandboxId: "sbx", processId: "p1", signal: "TERM" });
    expect(guest.execs.at(-1)).toEqual(["kill", "-TERM", "--", "-321"]);
  });

  it("refuses a signal outside the allowed names", async () => {
    await start();
    await expect(signalProcess(host(), { sandboxId: "sbx", processId: "p1", signal: "9; reboot" })).rejects.toThrow(
      /signal must be one of/,
    );
  });

  it("refuses stdin for a process that has exited", async () => {
    await start();
    guest.files.set(`${dir}/exit`, Buffer.from("0\n"));
    await expect(
      writeProcessInput(host(), { sandboxId: "sbx", processId: "p1", data: Buffer.from("x") }),
    ).rejects.toThrow(/process is exited/);
  });

  it("at the cap forgets the oldest ended process (row and guest files) and refuses only when all run", async () => {
    const startNumbered = (i: number) =>
      startProcess(host(), { sandboxId: "sbx", processId: `p${i}`, name: "", command: "true", env: {} });
    for (let i = 0; i < processLimits.maxPerSandbox; i++) await startNumbered(i);
    await expect(startNumbered(1000)).rejects.toThrow(/at most 64 processes at once/);
    guest.files.set("/run/fluid/proc/p3/exit", Buffer.from("0\n"));
    await listProcesses(host(), "sbx");
    await startNumbered(1001);
    const ids = (await listProcesses(host(), "sbx")).map((row) => row.id);
    expect(ids).not.toContain("p3");
    expect(ids).toContain("p1001");
    expect(guest.execs).toContainEqual(["rm", "-rf", "--", "/run/fluid/proc/p3"]);
  });

  it("lists a process started before the daemon restarted, its exit read from the guest afterwards", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fluid-processes-"));
    try {
      const first = await openDaemonDatabase(join(dir, "state.db"));
      await startProcess(
        { db: first.db, agent: async () => guest },
        {
          sandboxId: "sbx",
          processId: "p1",
          name: "loop",
          command: "sleep 300",
          env: {},
        },
      );
      await first.close();
      guest.files.set("/run/fluid/proc/p1/exit", Buffer.from("0\n"));
      const second = await openDaemonDatabase(join(dir, "state.db"));
      const rows = await listProcesses({ db: second.db, agent: async () => guest }, "sbx");
      await second.close();
      expect(rows).toMatchObject([{ id: "p1", pid: 321, state: "exited", exit_code: 0 }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
