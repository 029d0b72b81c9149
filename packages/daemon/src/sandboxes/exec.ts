import type { ExecResult } from "../agent/client.js";
import { execStreaming, type OutputStream } from "../agent/exec-stream.js";
import type { SandboxContext } from "./context.js";
import type { ExecInput } from "./types.js";

/**
 * Runs a command in a running sandbox through its guest agent, output capped per stream. With
 * `onOutput` the output is handed on as it is produced and the result carries none of it.
 */
export async function exec(
  ctx: SandboxContext,
  id: string,
  input: ExecInput,
  onOutput?: (stream: OutputStream, data: Buffer) => void,
): Promise<ExecResult> {
  await ctx.store.running(id);
  const agent = await ctx.agents.get(id);
  const startedAt = performance.now();
  const seconds = () => (performance.now() - startedAt) / 1000;
  const request = {
    command: input.command,
    env: input.env,
    stdin: input.stdin,
    timeoutMs: input.timeoutSeconds * 1000,
    maxOutputBytes: ctx.options.maxOutputBytes,
  };
  try {
    const result = onOutput ? await execStreaming(agent, request, onOutput) : await agent.exec(request);
    ctx.options.observe?.executed(seconds(), "ok");
    return result;
  } catch (err) {
    ctx.options.observe?.executed(seconds(), "error");
    throw err;
  }
}
