import { streamCommand } from "../api/sandboxes.js";
import type { Connection } from "../connection.js";

/** What run_command reports, whichever route ran the command. */
export interface RunOutcome {
  status: "completed" | "timed_out" | "failed" | "running";
  exit_code: number | null;
  duration_ms: number | null;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}

/**
 * Runs a command through the streaming route, sending each piece of its output as a progress
 * notification (`stdout: …` / `stderr: …`) while it runs, and returns the whole of it at the end,
 * as the buffered route would.
 */
export async function runReportingOutput(
  api: Connection,
  input: { sandboxId: string; command: string; timeoutSeconds?: number | undefined },
  progress: (step: number, message: string) => Promise<void>,
): Promise<RunOutcome> {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const text = { stdout: "", stderr: "" };
  let step = 0;
  for await (const event of streamCommand(api, input.sandboxId, {
    command: input.command,
    ...(input.timeoutSeconds ? { timeoutSeconds: input.timeoutSeconds } : {}),
  })) {
    if (event.type === "output") {
      const piece = decoders[event.stream].decode(event.data, { stream: true });
      text[event.stream] += piece;
      if (piece) await progress(++step, `${event.stream}: ${piece}`);
    } else if (event.type === "exit") {
      return {
        status: event.status,
        exit_code: event.exitCode,
        duration_ms: event.durationMs,
        stdout: text.stdout + decoders.stdout.decode(),
        stderr: text.stderr + decoders.stderr.decode(),
        stdout_truncated: event.stdoutTruncated,
        stderr_truncated: event.stderrTruncated,
      };
    }
  }
  throw new Error("the command's stream ended before its exit status");
}
