import { type AddressInfo, createServer } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { answer, type ScriptedLlm, startScriptedLlm, toolCalls } from "../../test/llm-fixture.js";
import { CliError } from "../output.js";
import { chatClient, type ToolDefinition } from "./llm.js";

const tool: ToolDefinition = {
  type: "function",
  function: { name: "list_sandboxes", description: "List sandboxes", parameters: { type: "object", properties: {} } },
};

describe("the chat completions client", () => {
  let llm: ScriptedLlm;
  beforeAll(async () => {
    llm = await startScriptedLlm();
  });
  afterAll(() => llm.close());
  beforeEach(() => {
    llm.requests.length = 0;
  });

  const client = (timeoutMs?: number) =>
    chatClient({
      baseUrl: `${llm.baseUrl}/`,
      model: "test/model",
      apiKey: "sk-secret",
      ...(timeoutMs ? { timeoutMs } : {}),
    });

  it("posts the model, conversation and tools with the key as a bearer token", async () => {
    llm.push(answer("hello"));
    const reply = await client().complete([{ role: "user", content: "hi" }], [tool]);
    expect(reply).toEqual({ role: "assistant", content: "hello" });
    const [request] = llm.requests;
    expect(request).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
    expect(request?.headers.authorization).toBe("Bearer sk-secret");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.body).toEqual({
      model: "test/model",
      messages: [{ role: "user", content: "hi" }],
      tools: [tool],
      tool_choice: "auto",
    });
  });

  it("leaves tools out when there are none", async () => {
    llm.push(answer("ok"));
    await client().complete([{ role: "user", content: "hi" }], []);
    expect(Object.keys(llm.requests[0]?.body)).toEqual(["model", "messages"]);
  });

  it("returns tool calls with their arguments as written", async () => {
    llm.push(toolCalls(["list_sandboxes", "{}"], ["get_sandbox", "{broken"]));
    const reply = await client().complete([{ role: "user", content: "hi" }], [tool]);
    expect(reply.content).toBeNull();
    expect(reply.tool_calls?.map((c) => [c.type, c.function.name, c.function.arguments])).toEqual([
      ["function", "list_sandboxes", "{}"],
      ["function", "get_sandbox", "{broken"],
    ]);
  });

  it("reports the provider's error message with the HTTP status", async () => {
    llm.push({ status: 401, body: { error: { message: "No auth credentials found", code: 401 } } });
    const failure = await client()
      .complete([{ role: "user", content: "hi" }], [])
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CliError);
    expect(failure).toMatchObject({
      code: "llm_error",
      message: "model provider error (HTTP 401): No auth credentials found",
    });
  });

  it("reports an error body that comes with status 200", async () => {
    llm.push({ body: { error: { message: "upstream overloaded", code: 502 } } });
    await expect(client().complete([{ role: "user", content: "hi" }], [])).rejects.toThrow(
      "model provider error: upstream overloaded",
    );
  });

  it("reports a body that is not a completion", async () => {
    llm.push({ status: 200, body: { choices: [] } });
    await expect(client().complete([{ role: "user", content: "hi" }], [])).rejects.toThrow(
      'model provider error: unexpected response: {"choices":[]}',
    );
  });

  it("gives up on a provider that does not answer in time", async () => {
    llm.push("hang");
    await expect(client(300).complete([{ role: "user", content: "hi" }], [])).rejects.toMatchObject({
      code: "llm_timeout",
      message: "no answer from the model provider within 0 s",
    });
  });

  it("names a provider it cannot reach", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = chatClient({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "m", apiKey: "k" });
    await expect(unreachable.complete([{ role: "user", content: "hi" }], [])).rejects.toMatchObject({
      code: "llm_unreachable",
      message: `cannot reach the model provider at http://127.0.0.1:${port}/v1/chat/completions (ECONNREFUSED)`,
    });
  });

  it("stops when the caller aborts, without calling it a timeout", async () => {
    llm.push("hang");
    const controller = new AbortController();
    const pending = client().complete([{ role: "user", content: "hi" }], [], controller.signal);
    setTimeout(() => controller.abort(), 50);
    const failure = await pending.catch((err: unknown) => err);
    expect(failure).not.toBeInstanceOf(CliError);
    expect((failure as Error).name).toBe("AbortError");
  });
});
