import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type CommandOutput, CommandOutputSchema, type HostMessage, HostMessageSchema } from "@fluid/proto";
import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import { CommandTimeoutError, HostCommandError, StreamClosedError } from "../stream/errors.js";
import type { Command } from "../stream/host-session.js";
import { HostClient } from "./host-client.js";

interface Sent {
  hostId: string;
  command: Command;
  timeoutMs: number;
}

/** A registry whose one host answers every command with `answer`. */
function fakeHosts(answer: (command: Command) => HostMessage | Error) {
  const sent: Sent[] = [];
  return {
    sent,
    connectedAmong: async (hostIds: readonly string[]) => new Set(hostIds.filter((id) => id === "h1")),
    request: async (hostId: string, command: Command, timeoutMs: number) => {
      sent.push({ hostId, command, timeoutMs });
      const reply = answer(command);
      if (reply instanceof Error) throw reply;
      return reply;
    },
  };
}

const reply = (payload: NonNullable<MessageInitShape<typeof HostMessageSchema>["payload"]>) =>
  create(HostMessageSchema, { payload });

async function failure(work: Promise<unknown>): Promise<AppError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

describe("HostClient", () => {
  it("sends a typed command with its deadline and returns the typed reply", async () => {
    const hosts = fakeHosts(() => reply({ case: "sandboxStarted", value: { sandboxId: "s1", ipAddress: "10.0.0.2" } }));
    const client = new HostClient(hosts, { startMs: 1234 });
    const started = await client.startSandbox("h1", "s1");
    expect(started.ipAddress).toBe("10.0.0.2");
    expect(hosts.sent).toHaveLength(1);
    expect(hosts.sent[0]?.hostId).toBe("h1");
    expect(hosts.sent[0]?.timeoutMs).toBe(1234);
    expect(hosts.sent[0]?.command.case).toBe("startSandbox");
  });

  it("streams a command's output from a host on this replica and says it was live", async () => {
    const hosts = fakeHosts(() => reply({ case: "commandResult", value: { exitCode: 0 } }));
    const streamedTo: Command[] = [];
    const local = {
      ...hosts,
      requestStreaming: (
        _hostId: string,
        command: Command,
        _timeoutMs: number,
        onOutput: (o: CommandOutput) => void,
      ) => {
        streamedTo.push(command);
        onOutput(create(CommandOutputSchema, { stream: "stdout", data: Buffer.from("a") }));
        onOutput(create(CommandOutputSchema, { stream: "bogus", data: Buffer.from("dropped") }));
        return Promise.resolve(reply({ case: "commandResult", value: { exitCode: 4 } }));
      },
    };
    const pieces: string[] = [];
    const { result, live } = await new HostClient(local).runCommandStreaming(
      "h1",
      { sandboxId: "s1", command: "x", timeoutSeconds: 1, env: {} },
      (p) => pieces.push(`${p.stream}:${Buffer.from(p.data)}`),
    );
    expect({ exitCode: result.exitCode, live, pieces }).toEqual({ exitCode: 4, live: true, pieces: ["stdout:a"] });
    expect(streamedTo[0]?.case === "runCommand" && streamedTo[0].value.streamOutput).toBe(true);
  });

  it("runs a command buffered when its host streams to another replica, handing its output on at the end", async () => {
    const hosts = fakeHosts(() =>
      reply({ case: "commandResult", value: { stdout: "out", stderr: "err", exitCode: 1 } }),
    );
    const remote = { ...hosts, requestStreaming: () => undefined };
    const pieces: string[] = [];
    const { live } = await new HostClient(remote).runCommandStreaming(
      "h1",
      { sandboxId: "s1", command: "x", timeoutSeconds: 1, env: {} },
      (p) => pieces.push(`${p.stream}:${Buffer.from(p.data)}`),
    );
    expect({ live, pieces }).toEqual({ live: false, pieces: ["stdout:out", "stderr:err"] });
    expect(hosts.sent[0]?.command.case === "runCommand" && hosts.sent[0].command.value.streamOutput).toBe(false);
  });

  it("gives a command the caller's timeout plus the grace, so the host reports its own timeout first", async () => {
    const hosts = fakeHosts(() => reply({ case: "commandResult", value: { exitCode: 3 } }));
    const client = new HostClient(hosts, { commandGraceMs: 500 });
    const result = await client.runCommand("h1", { sandboxId: "s1", command: "true", timeoutSeconds: 2, env: {} });
    expect(result.exitCode).toBe(3);
    expect(hosts.sent[0]?.timeoutMs).toBe(2500);
  });

  it("maps a reply of the wrong kind, a host error, a timeout and a closed stream to AppErrors", async () => {
    const cases: [Error | HostMessage, string][] = [
      [reply({ case: "sandboxStopped", value: {} }), "host_error"],
      [new HostCommandError("not_found", "no such sandbox"), "not_found"],
      [new HostCommandError("refused", "no"), "command_refused"],
      [new CommandTimeoutError("startSandbox", 1000), "timeout"],
      [new StreamClosedError("host_disconnected"), "host_unavailable"],
    ];
    for (const [answer, code] of cases) {
      const client = new HostClient(fakeHosts(() => answer));
      const err = await failure(client.startSandbox("h1", "s1"));
      expect(err.code).toBe(code);
      expect(err.message).toContain("start sandbox failed");
    }
  });

  it("tells a destroy's harmless outcomes apart from its failures", async () => {
    const outcome = (answer: Error | HostMessage) =>
      new HostClient(fakeHosts(() => answer)).destroySandbox("h1", "s1", "user_request");
    expect(await outcome(reply({ case: "sandboxDestroyed", value: { sandboxId: "s1" } }))).toBe("destroyed");
    expect(await outcome(new HostCommandError("not_found", "gone"))).toBe("unknown_to_host");
    expect(await outcome(new AppError("host_unavailable", "not connected"))).toBe("host_away");
    const err = await failure(outcome(new HostCommandError("host_error", "disk on fire")));
    expect(err.code).toBe("host_error");
    expect(err.message).toContain("destroy sandbox failed");
  });

  it("sends the lease's end as unix seconds", async () => {
    const hosts = fakeHosts(() => reply({ case: "sandboxExtended", value: {} }));
    await new HostClient(hosts).extendSandbox("h1", "s1", new Date("2030-01-01T00:00:00.900Z"));
    const command = hosts.sent[0]?.command;
    expect(command?.case).toBe("extendSandbox");
    if (command?.case === "extendSandbox") expect(command.value.expiresAtUnix).toBe(1893456000n);
  });
});
