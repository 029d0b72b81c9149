import { errorStatus, isErrorCode } from "@fluid/proto";
import type { Client } from "openapi-fetch";
import { errorFromResponse, FluidError, fluidError } from "./errors.js";
import type { components, paths } from "./gen/api.js";
import { base64Bytes, ndjsonLines } from "./ndjson.js";

/** The client createClient returns (spelled out here: index.ts re-exports this module). */
type FluidClient = Client<paths, "application/json">;

type WireEvent = components["schemas"]["ExecStreamEvent"];
type WireExit = Extract<WireEvent, { type: "exit" }>;

/** An event of a streamed command, output decoded to bytes. */
export type ExecEvent =
  | { type: "started"; commandId: string }
  | { type: "output"; stream: "stdout" | "stderr"; data: Uint8Array }
  | {
      type: "exit";
      commandId: string;
      status: WireExit["status"];
      exitCode: number | null;
      durationMs: number | null;
      stdoutTruncated: boolean;
      stderrTruncated: boolean;
      /** False when the server relayed the output in one piece at the end (another replica held the host). */
      live: boolean;
    };

export interface StreamExecRequest {
  /** The org's slug. */
  org: string;
  /** The sandbox's id. */
  sandbox: string;
  command: string;
  timeoutSeconds?: number;
  env?: Record<string, string>;
  /** Aborting stops reading; the command itself runs on to its end or timeout (and is recorded). */
  signal?: AbortSignal;
}

/**
 * Runs a command in a sandbox and yields its output as it is produced, then its `exit` event.
 * Failures before the command starts throw the usual FluidError subclass; one after it started
 * (the host went away, say) throws a FluidError with the server's code once the output so far is yielded.
 */
export async function* streamExec(client: FluidClient, request: StreamExecRequest): AsyncGenerator<ExecEvent> {
  const { data, error, response } = await client.POST("/v1/orgs/{slug}/sandboxes/{id}/run/stream", {
    params: { path: { slug: request.org, id: request.sandbox } },
    body: {
      command: request.command,
      ...(request.timeoutSeconds === undefined ? {} : { timeout_seconds: request.timeoutSeconds }),
      ...(request.env ? { env: request.env } : {}),
    },
    parseAs: "stream",
    ...(request.signal ? { signal: request.signal } : {}),
  });
  if (!response.ok || !data) throw errorFromResponse(response, error);
  let ended = false;
  for await (const line of ndjsonLines(data)) {
    const event = JSON.parse(line) as WireEvent;
    switch (event.type) {
      case "started":
        yield { type: "started", commandId: event.command_id };
        break;
      case "output":
        yield { type: "output", stream: event.stream, data: base64Bytes(event.data) };
        break;
      case "exit":
        ended = true;
        yield {
          type: "exit",
          commandId: event.command_id,
          status: event.status,
          exitCode: event.exit_code,
          durationMs: event.duration_ms,
          stdoutTruncated: event.stdout_truncated,
          stderrTruncated: event.stderr_truncated,
          live: event.live,
        };
        break;
      case "error": {
        const code = isErrorCode(event.error.code) ? event.error.code : "internal";
        throw fluidError(errorStatus[code], code, event.error.message);
      }
    }
  }
  if (!ended) throw new FluidError(502, "host_unavailable", "the command's stream ended before its exit status");
}
