import { errorStatus, isErrorCode } from "@fluid/proto";
import type { Client } from "openapi-fetch";
import { errorFromResponse, FluidError, fluidError } from "./errors.js";
import type { components, paths } from "./gen/api.js";
import { base64Bytes, ndjsonLines } from "./ndjson.js";

type FluidClient = Client<paths, "application/json">;
type WireEvent = components["schemas"]["ProcessLogEvent"];

/** An event of a followed background-process log, output decoded to bytes. */
export type ProcessLogEvent =
  | { type: "output"; stream: "stdout" | "stderr"; data: Uint8Array }
  | { type: "exit"; process: components["schemas"]["Process"] };

export interface FollowProcessLogRequest {
  /** The org's slug. */
  org: string;
  /** The sandbox's id. */
  sandbox: string;
  /** The background process's id. */
  process: string;
  /** Where to start in stdout and stderr (bytes already read); from the beginning by default. */
  offset?: number;
  stderrOffset?: number;
  /** Aborting stops reading; the process runs on. */
  signal?: AbortSignal;
}

/**
 * Yields a background process's output from the given offsets as it is written, then one `exit`
 * event once the process has ended and all its output is yielded. A failure while following (the host
 * went away) throws the FluidError subclass of its code after the output before it.
 */
export async function* followProcessLog(
  client: FluidClient,
  request: FollowProcessLogRequest,
): AsyncGenerator<ProcessLogEvent> {
  const { data, error, response } = await client.GET("/v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/logs", {
    params: {
      path: { slug: request.org, id: request.sandbox, processId: request.process },
      query: { offset: request.offset ?? 0, stderr_offset: request.stderrOffset ?? 0, follow: "true" },
    },
    parseAs: "stream",
    ...(request.signal ? { signal: request.signal } : {}),
  });
  if (!response.ok || !data) throw errorFromResponse(response, error);
  for await (const line of ndjsonLines(data)) {
    const event = JSON.parse(line) as WireEvent;
    switch (event.type) {
      case "output":
        yield { type: "output", stream: event.stream, data: base64Bytes(event.data) };
        break;
      case "exit":
        yield { type: "exit", process: event.process };
        return;
      case "error": {
        const code = isErrorCode(event.error.code) ? event.error.code : "internal";
        throw fluidError(errorStatus[code], code, event.error.message);
      }
    }
  }
  throw new FluidError(502, "host_unavailable", "the process log's stream ended before the process's exit");
}
