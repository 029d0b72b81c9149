import { defaultHandlers } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { answer, type ScriptedLlm, startScriptedLlm, toolCalls, toolResults } from "../../test/llm-fixture.js";
import { type McpFixture, startMcp } from "../../test/mcp-fixture.js";
import { EGRESS_DENIED } from "./egress.js";
import { chatClient } from "./llm.js";
import { Agent, type AgentEvent, MAX_ROUNDS } from "./loop.js";
import { type Approver, type Mode, Toolbox } from "./tools.js";

describe("the agent loop against a scripted model and a real control plane", () => {
  let f: McpFixture;
  let llm: ScriptedLlm;
  let toolbox: Toolbox;
  let events: AgentEvent[];
  let questions: string[];
  let answers: boolean[];

  const approver: Approver = {
    async approve(question) {
      questions.push(question);
      return answers.shift() ?? false;
    },
  };
  const newAgent = (mode: Mode = "edit") =>
    new Agent(chatClient({ baseUrl: llm.baseUrl, model: "test/model", apiKey: "sk-test" }), toolbox, mode);
  const send = (agent: Agent, text: string, signal?: AbortSignal) =>
    agent.send(text, { approver, onEvent: (e) => events.push(e), ...(signal ? { signal } : {}) });
  /** The commands the host was asked to run. */
  const commandsRun = () =>
    f.daemon.commands("runCommand").map((m) => (m.payload.case === "runCommand" ? m.payload.value.command : ""));

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
    llm.requests.length = 0;
    llm.otherwise = undefined;
    events = [];
    questions = [];
    answers = [];
  });

  it("runs create_sandbox then run_command through the server and sends their results back", async () => {
    const agent = newAgent();
    let sandboxId = "";
    llm.push(
      toolCalls(["create_sandbox", { source_vm: "debian-12" }]),
      (request) => {
        sandboxId = JSON.parse(toolResults(request)[0]!.content).sandbox_id;
        return toolCalls(["run_command", { sandbox_id: sandboxId, command: "uname -a" }]);
      },
      answer("The sandbox runs Linux."),
    );
    await send(agent, "what kernel does a sandbox run?");

    expect(llm.requests).toHaveLength(3);
    const [first, second, third] = llm.requests;
    expect(first?.headers.authorization).toBe("Bearer sk-test");
    expect(first?.body).toMatchObject({ model: "test/model", tool_choice: "auto" });
    expect(first?.body.messages.map((m: { role: string }) => m.role)).toEqual(["system", "user"]);
    expect(first?.body.tools).toHaveLength((await f.client.listTools()).tools.length);

    const created = toolResults(second);
    expect(created).toHaveLength(1);
    expect(created[0]?.tool_call_id).toBe(second?.body.messages.at(-2).tool_calls[0].id);
    expect(JSON.parse(created[0]!.content)).toMatchObject({ sandbox_id: sandboxId, state: "RUNNING" });
    const ran = toolResults(third);
    expect(ran[0]?.content).toBe("exit code 0 in 7 ms\nstdout:\nran: uname -a\n");

    expect(commandsRun().at(-1)).toBe("uname -a");
    const create = f.daemon.commands("createSandbox").at(-1);
    expect(create?.payload.case === "createSandbox" && create.payload.value).toMatchObject({
      sandboxId,
      agentId: "fluid-agent",
    });
    expect(events.filter((e) => e.type === "tool_result").map((e) => [e.name, e.outcome.status])).toEqual([
      ["create_sandbox", "ok"],
      ["run_command", "ok"],
    ]);
    expect(events.at(-1)).toEqual({ type: "assistant", text: "The sandbox runs Linux." });
    expect(questions).toEqual([]);
    expect(agent.session.list()).toEqual([sandboxId]);
    expect(agent.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "tool", "assistant"]);
  });

  it("in read-only mode offers only read-only tools and refuses the others without calling the server", async () => {
    const sandboxId = await f.sandbox();
    const { tools } = await f.client.listTools();
    const readOnly = tools.filter((t) => t.annotations?.readOnlyHint === true).map((t) => t.name);
    expect(readOnly).toContain("list_sandboxes");
    const agent = newAgent("read-only");
    const runsBefore = commandsRun().length;
    const destroysBefore = f.daemon.commands("destroySandbox").length;
    llm.push(
      toolCalls(
        ["run_command", { sandbox_id: sandboxId, command: "rm -rf /srv" }],
        ["destroy_sandbox", { sandbox_id: sandboxId }],
      ),
      answer("I cannot change anything in read-only mode."),
    );
    await send(agent, "clean up");

    const offered = llm.requests[0]?.body.tools.map((t: { function: { name: string } }) => t.function.name);
    expect([...offered].sort()).toEqual([...readOnly].sort());
    expect(offered).not.toContain("run_command");
    expect(toolResults(llm.requests[1]).map((m) => m.content)).toEqual([
      "refused: run_command changes things and the agent is in read-only mode (Shift+Tab switches to edit mode)",
      "refused: destroy_sandbox changes things and the agent is in read-only mode (Shift+Tab switches to edit mode)",
    ]);
    expect(llm.requests[0]?.body.messages[0].content).toMatch(/read-only mode/);
    expect(commandsRun()).toHaveLength(runsBefore);
    expect(f.daemon.commands("destroySandbox")).toHaveLength(destroysBefore);
    expect((await f.call("get_sandbox", { sandbox_id: sandboxId })).structuredContent.state).toBe("RUNNING");

    agent.mode = "edit";
    llm.push(answer("ok"));
    await send(agent, "now you may");
    expect(llm.requests[2]?.body.tools).toHaveLength((await f.client.listTools()).tools.length);
  });

  it("asks before a command reaches the network, and runs it only when allowed", async () => {
    const sandboxId = await f.sandbox();
    const agent = newAgent();
    const curl = { sandbox_id: sandboxId, command: "curl http://x" };

    answers = [false];
    llm.push(toolCalls(["run_command", curl]), answer("Understood, no network."));
    await send(agent, "fetch http://x");
    expect(questions).toEqual([`run_command wants network access (curl):\n  curl http://x\nAllow it?`]);
    expect(commandsRun()).not.toContain("curl http://x");
    expect(toolResults(llm.requests[1])[0]?.content).toBe(EGRESS_DENIED);
    expect(events.find((e) => e.type === "tool_result")).toMatchObject({ outcome: { status: "denied" } });

    answers = [true];
    llm.push(toolCalls(["run_command", curl]), answer("Fetched."));
    await send(agent, "you may fetch it now");
    expect(questions).toHaveLength(2);
    expect(commandsRun().at(-1)).toBe("curl http://x");
    expect(toolResults(llm.requests[3])[0]?.content).toBe("exit code 0 in 7 ms\nstdout:\nran: curl http://x\n");
  });

  it("remembers the sandboxes it made, forgets destroyed ones, and destroys the rest on request", async () => {
    const agent = newAgent();
    let ids: string[] = [];
    llm.push(
      toolCalls(["create_sandbox", { source_vm: "debian-12" }], ["create_sandbox", { source_vm: "debian-12" }]),
      (request) => {
        ids = toolResults(request).map((m) => JSON.parse(m.content).sandbox_id);
        return toolCalls(["destroy_sandbox", { sandbox_id: ids[0] }]);
      },
      answer("One left."),
    );
    await send(agent, "make two, drop one");
    expect(ids).toHaveLength(2);
    expect(agent.session.list()).toEqual([ids[1]]);

    const reported: string[] = [];
    const results = await agent.session.destroyAll(toolbox, (r) => reported.push(r.sandboxId));
    expect(results).toEqual([{ sandboxId: ids[1], destroyed: true, detail: "DESTROYED" }]);
    expect(reported).toEqual([ids[1]]);
    expect(agent.session.size).toBe(0);
    const listed = (await f.call("list_sandboxes")).structuredContent.sandboxes.map((s: { id: string }) => s.id);
    expect(listed).not.toContain(ids[0]);
    expect(listed).not.toContain(ids[1]);
  });

  it("keeps a sandbox it failed to destroy, and reports why", async () => {
    const agent = newAgent();
    llm.push(toolCalls(["create_sandbox", { source_vm: "debian-12" }]), answer("made"));
    await send(agent, "make one");
    const [id] = agent.session.list();
    f.daemon.handlers.destroySandbox = () => ({ error: "disk busy", code: "internal" });
    const [result] = await agent.session.destroyAll(toolbox);
    expect(result).toMatchObject({
      sandboxId: id,
      destroyed: false,
      detail: expect.stringMatching(/^Error: .*disk busy/),
    });
    expect(agent.session.list()).toEqual([id]);
  });

  it("shows the provider's error and carries on with the conversation", async () => {
    const agent = newAgent();
    llm.push({ status: 429, body: { error: { message: "Rate limit exceeded: free-models-per-min" } } });
    await send(agent, "hello");
    expect(events).toEqual([
      { type: "error", message: "model provider error (HTTP 429): Rate limit exceeded: free-models-per-min" },
    ]);

    llm.push(answer("Hello again."));
    await send(agent, "hello?");
    expect(events.at(-1)).toEqual({ type: "assistant", text: "Hello again." });
    const contents = llm.requests[1]?.body.messages.filter((m: { role: string }) => m.role === "user");
    expect(contents.map((m: { content: string }) => m.content)).toEqual(["hello", "hello?"]);
  });

  it("answers tool calls with broken JSON or unknown names with an error the model can read", async () => {
    const agent = newAgent();
    const runsBefore = commandsRun().length;
    llm.push(
      toolCalls(["run_command", '{"sandbox_id": "x", "command": "ls"'], ["run_command", "[1]"], ["teleport", "{}"]),
      answer("Sorry."),
    );
    await send(agent, "list files");
    const [broken, array, unknown] = toolResults(llm.requests[1]).map((m) => m.content);
    expect(broken).toMatch(/^Error: the arguments for run_command are not a valid JSON object \(.+\)$/);
    expect(array).toBe(
      "Error: the arguments for run_command are not a valid JSON object (expected an object, got an array)",
    );
    expect(unknown).toBe('Error: there is no tool named "teleport"');
    expect(commandsRun()).toHaveLength(runsBefore);
    expect(events.at(-1)).toEqual({ type: "assistant", text: "Sorry." });
  });

  it("passes tool errors on as Error: <text>", async () => {
    const agent = newAgent();
    llm.push(toolCalls(["get_sandbox", { sandbox_id: "00000000-0000-4000-8000-000000000000" }]), answer("gone"));
    await send(agent, "where is it?");
    expect(toolResults(llm.requests[1])[0]?.content).toBe(
      "Error: fluid API error not_found (HTTP 404): sandbox not found",
    );
  });

  it(`stops after ${MAX_ROUNDS} rounds of tool calls and leaves a conversation that can go on`, async () => {
    const agent = newAgent();
    llm.otherwise = () => toolCalls(["no_such_tool", "{}"]);
    await send(agent, "loop forever");
    expect(llm.requests).toHaveLength(MAX_ROUNDS);
    expect(events.at(-1)).toEqual({
      type: "notice",
      message: `stopped after ${MAX_ROUNDS} rounds of tool calls without an answer; send a message to let it go on`,
    });
    expect(agent.messages.at(-1)?.role).toBe("tool");
  });

  it("stops a turn when aborted, answering every tool call so the conversation stays valid", async () => {
    const agent = newAgent();
    const controller = new AbortController();
    const listsBefore = llm.requests.length;
    llm.push(
      toolCalls(["run_command", { sandbox_id: await f.sandbox(), command: "ping -c1 x" }], ["list_sandboxes", "{}"]),
    );
    // The person presses Esc while the approval question is open: the question is answered no and the turn stops.
    const stopping: Approver = {
      async approve() {
        controller.abort();
        return false;
      },
    };
    await agent.send("ping", { approver: stopping, onEvent: (e) => events.push(e), signal: controller.signal });
    expect(llm.requests).toHaveLength(listsBefore + 1);
    expect(agent.messages.slice(-2)).toEqual([
      { role: "tool", tool_call_id: expect.any(String), content: EGRESS_DENIED },
      {
        role: "tool",
        tool_call_id: expect.any(String),
        content: "cancelled: the user stopped this turn before the call ran",
      },
    ]);
    expect(events.filter((e) => e.type === "tool_result").map((e) => e.name)).toEqual(["run_command"]);

    llm.push("hang");
    const second = new AbortController();
    const hung = send(agent, "again", second.signal);
    setTimeout(() => second.abort(), 50);
    await hung;
    expect(events.filter((e) => e.type === "notice")).toEqual([
      { type: "notice", message: "stopped" },
      { type: "notice", message: "stopped" },
    ]);
    const calls = agent.messages.flatMap((m) => (m.role === "assistant" ? (m.tool_calls ?? []) : []));
    const answered = agent.messages.flatMap((m) => (m.role === "tool" ? [m.tool_call_id] : []));
    expect(answered).toEqual(calls.map((c) => c.id));
  });
});
