import type { ExecResult } from "../agent/client.js";
import type { SandboxContext } from "./context.js";
import type { ExecInput } from "./types.js";

/** Runs a command in a running sandbox through its guest agent, output capped per stream. */
export async function exec(ctx: SandboxContext, id: string, input: ExecInput): Promise<ExecResult> {
  await ctx.store.running(id);
  const agent = await ctx.agents.get(id);
  const startedAt = performance.now();
  const seconds = () => (performance.now() - startedAt) / 1000;
  try {
    const result = await agent.exec({
      command: input.command,
      env: input.env,
      stdin: input.stdin,
      timeoutMs: input.timeoutSeconds * 1000,
      maxOutputBytes: ctx.options.maxOutputBytes,
    });
    ctx.options.observe?.executed(seconds(), "ok");
    return result;
  } catch (err) {
    ctx.options.observe?.executed(seconds(), "error");
    throw err;
  }
}
