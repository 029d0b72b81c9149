import { type ChangeRequest, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import { pollWhile } from "./poll.js";

/** Change-request calls shared by the CLI commands and the MCP tools. */
export function changeRequestPath(conn: Connection, changeRequestId: string) {
  return { params: { path: { slug: conn.org, changeRequestId } } };
}

export function getChangeRequest(conn: Connection, id: string): Promise<ChangeRequest> {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/change-requests/{changeRequestId}", changeRequestPath(conn, id)));
}

export function startVerification(conn: Connection, id: string): Promise<ChangeRequest> {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/verify", changeRequestPath(conn, id)),
  );
}

export interface VerificationWait {
  intervalMs: number;
  /** Stops waiting (the request stays verifying) once this many ms have passed. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called after every poll with how long the verification has run. */
  onPoll?: (request: ChangeRequest, elapsedSeconds: number) => void | Promise<void>;
}

/**
 * Polls a request the server is verifying until it is verified or verification_failed (or the wait
 * runs out, leaving it verifying): a clone boots and runs the playbook twice, which takes minutes.
 */
export function untilVerified(
  conn: Connection,
  started: ChangeRequest,
  wait: VerificationWait,
): Promise<ChangeRequest> {
  const since = Date.parse(started.verification_started_at ?? started.updated_at);
  return pollWhile(
    started,
    (request) => request.state === "verifying",
    () => getChangeRequest(conn, started.id),
    {
      intervalMs: wait.intervalMs,
      timeoutMs: wait.timeoutMs,
      signal: wait.signal,
      onPoll: (request) => wait.onPoll?.(request, Math.max(0, Math.round((Date.now() - since) / 1000))),
    },
  );
}
