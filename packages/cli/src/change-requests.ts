import { type ChangeRequest, type ChangeRequestMismatch, unwrap } from "@fluid/sdk";
import { pollWhile } from "./api/poll.js";
import type { Connection } from "./connection.js";

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

/** Enough of a sha256 to tell two apart on screen; approvals always send the whole hash. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

const PROBLEM = {
  missing_in_clone: "is in the sandbox but not in the clone",
  extra_in_clone: "is in the clone but not in the sandbox",
  differs: "differs",
} as const;

/** One mismatch on one line: `file /etc/app.conf differs: mode "0644" in the sandbox, "0600" in the clone`. */
export function describeMismatch(mismatch: ChangeRequestMismatch): string {
  const head = `${mismatch.kind} ${mismatch.key} ${PROBLEM[mismatch.problem]}`;
  if (!mismatch.fields?.length) return head;
  const fields = mismatch.fields.map(
    (f) => `${f.field} ${JSON.stringify(f.expected)} in the sandbox, ${JSON.stringify(f.actual)} in the clone`,
  );
  return `${head}: ${fields.join("; ")}`;
}
