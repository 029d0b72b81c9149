import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { stripVTControlCharacters } from "node:util";
import { defaultHandlers } from "@fluid/testkit";
import { type Instance, render } from "ink";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { answer, type ScriptedLlm, startScriptedLlm, toolCalls } from "../../../test/llm-fixture.js";
import { type McpFixture, startMcp } from "../../../test/mcp-fixture.js";
import { chatClient } from "../llm.js";
import { Agent } from "../loop.js";
import { Toolbox } from "../tools.js";
import { App } from "./app.js";

/** A terminal for ink: keeps what was written (in debug mode every write is the whole screen). */
class FakeStdout extends EventEmitter {
  columns = 160;
  rows = 50;
  isTTY = true;
  frames: string[] = [];
  write(data: string): boolean {
    this.frames.push(stripVTControlCharacters(data));
    return true;
  }
  get screen(): string {
    return this.frames.at(-1) ?? "";
  }
}

/** A keyboard: raw mode is a no-op, keys are written one press at a time. */
function fakeStdin(): PassThrough & { isTTY: boolean; setRawMode(mode: boolean): void; ref(): void; unref(): void } {
  return Object.assign(new PassThrough(), { isTTY: true, setRawMode() {}, ref() {}, unref() {} });
}

const SHIFT_TAB = "\u001b[Z";
const CTRL_C = "\u0003";
const ENTER = "\r";
const BACKSPACE = "\u007f";
const CTRL_U = "\u0015";

describe("the fluid agent terminal UI", () => {
  let f: McpFixture;
  let llm: ScriptedLlm;
  let toolbox: Toolbox;
  let stdout: FakeStdout;
  let stdin: ReturnType<typeof fakeStdin>;
  let ink: Instance | undefined;
  let exited: Promise<unknown>;

  beforeAll(async () => {
    f = await startMcp({ agentId: "fluid-agent" });
    llm = await startScriptedLlm();
    toolbox = await Toolbox.load(f.client);
  });
  afterAll(async () => {
    await llm.close();
    await f.close();
  });
  beforeEach(() => {
    f.daemon.handlers = { ...defaultHandlers };
    stdout = new FakeStdout();
    stdin = fakeStdin();
  });
  afterEach(() => {
    ink?.unmount();
    ink = undefined;
  });

  const start = () => {
    const agent = new Agent(
      chatClient({ baseUrl: llm.baseUrl, model: "test/model", apiKey: "sk-test" }),
      toolbox,
      "edit",
    );
    ink = render(<App agent={agent} model="test/model" />, {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: stdout as unknown as NodeJS.WriteStream,
      stdin: stdin as unknown as NodeJS.ReadStream,
      debug: true,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    // Ink settles only the exit promise that exists when the app exits.
    exited = ink.waitUntilExit();
    return agent;
  };
  /** Waits until the screen shows `text`. */
  const until = async (text: string) => {
    for (let i = 0; i < 200 && !stdout.screen.includes(text); i++) await sleep(25);
    expect(stdout.screen).toContain(text);
  };
  /** Types each key once ink has read the previous one: keys read together would arrive as one paste. */
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      stdin.write(key);
      while (stdin.readableLength > 0) await sleep(5);
      await sleep(10);
    }
  };
  const commandsRun = () =>
    f.daemon.commands("runCommand").map((m) => (m.payload.case === "runCommand" ? m.payload.value.command : ""));

  it("shows the status bar and asks before a command reaches the network", async () => {
    start();
    await until("EDIT");
    expect(stdout.screen).toContain("test/model · 0 sandboxes this session");
    expect(stdout.screen).not.toContain("READ-ONLY");

    await press(SHIFT_TAB);
    await until("READ-ONLY");
    await press("/mode", ENTER);
    await until("edit mode");
    await press("\u001b[A");
    await until("› /mode");
    await press(BACKSPACE);
    await until("\n› /mod\n");
    await press(CTRL_U);
    await until("\n›\n");
    expect(stdout.screen).toMatch(/ EDIT .*test\/model/);

    const sandboxId = await f.sandbox();
    llm.push(toolCalls(["run_command", { sandbox_id: sandboxId, command: "curl http://x" }]), answer("Not fetched."));
    await press("fetch http://x", ENTER);
    await until("run_command wants network access (curl):");
    expect(stdout.screen).toContain("curl http://x");
    expect(stdout.screen).toContain("(y/N)");
    expect(stdout.screen).toContain("› fetch http://x");

    await press("n");
    await until("Not fetched.");
    expect(stdout.screen).toMatch(
      /▸ run_command \{"sandbox_id":"[^"]+","command":"curl http:\/\/x"\}\s+⊘ network access denied/,
    );
    expect(stdout.screen).not.toContain("(y/N)");
    expect(commandsRun()).not.toContain("curl http://x");

    await press("/exit", ENTER);
    await exited;
  });

  it("leaves the session's sandboxes running when the person declines to destroy them", async () => {
    const agent = start();
    llm.push(toolCalls(["create_sandbox", { source_vm: "debian-12" }]), answer("Made one."));
    await press("make a sandbox", ENTER);
    await until("Made one.");
    await until("1 sandbox this session");
    expect(stdout.screen).toMatch(/▸ create_sandbox \{"source_vm":"debian-12"\}\s+✓ \{"sandbox_id":"/);
    const [id] = agent.session.list();

    await press("/exit", ENTER);
    await until("destroy 1 sandbox(es) created in this session?");
    await press("n");
    await exited;
    expect((await f.call("get_sandbox", { sandbox_id: id })).structuredContent.state).toBe("RUNNING");
  });

  it("destroys the session's sandboxes on Ctrl+C twice when the person agrees", async () => {
    const agent = start();
    llm.push(toolCalls(["create_sandbox", { source_vm: "debian-12" }]), answer("Made one."));
    await press("make a sandbox", ENTER);
    await until("1 sandbox this session");
    const [id] = agent.session.list();

    await press(CTRL_C);
    await until("press Ctrl+C again to leave");
    await press(CTRL_C);
    await until("destroy 1 sandbox(es) created in this session?");
    await press("y");
    await exited;
    expect(stdout.frames.join("")).toContain(`destroyed ${id}`);
    expect(agent.session.size).toBe(0);
    const listed = (await f.call("list_sandboxes")).structuredContent.sandboxes.map((s: { id: string }) => s.id);
    expect(listed).not.toContain(id);
  });
});
