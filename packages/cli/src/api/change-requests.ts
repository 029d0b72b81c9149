import { type ChangeRequest, type ChangeRequestSummary, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import { allPages, PAGE_SIZE } from "./pages.js";
import { pollWhile } from "./poll.js";
import type { BodyOf } from "./types.js";

/** Change-request calls shared by the CLI commands and the MCP tools. */
function changeRequestPath(conn: Connection, changeRequestId: string) {
  return { params: { path: { slug: conn.org, changeRequestId } } };
}

export type CreateChangeRequest = BodyOf<"/v1/orgs/{slug}/change-requests", "post">;
export type Approval = BodyOf<"/v1/orgs/{slug}/change-requests/{changeRequestId}/approve", "post">;
export type Rejection = BodyOf<"/v1/orgs/{slug}/change-requests/{changeRequestId}/reject", "post">;
export type ApplyOptions = BodyOf<"/v1/orgs/{slug}/change-requests/{changeRequestId}/apply", "post">;

/** Diffs the sandbox and (unless a playbook is given) generates the playbook: the reply comes when both are done. */
export function createChangeRequest(conn: Connection, body: CreateChangeRequest): Promise<ChangeRequest> {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/change-requests", { params: { path: { slug: conn.org } }, body }));
}

/** Every change request of the org, newest first, optionally only those in one state. */
export function listChangeRequests(
  conn: Connection,
  state: ChangeRequestSummary["state"] | undefined,
): Promise<ChangeRequestSummary[]> {
  return allPages(async (offset) => {
    const page = await unwrap(
      conn.client.GET("/v1/orgs/{slug}/change-requests", {
        params: { path: { slug: conn.org }, query: { limit: PAGE_SIZE, offset, state } },
      }),
    );
    return { items: page.change_requests, next_offset: page.next_offset };
  });
}

/** Replaces the request's playbook with the given Ansible YAML. */
export function replacePlaybook(conn: Connection, id: string, yaml: string): Promise<ChangeRequest> {
  return unwrap(
    conn.client.PUT("/v1/orgs/{slug}/change-requests/{changeRequestId}/playbook", {
      ...changeRequestPath(conn, id),
      body: { yaml },
    }),
  );
}

export function approveChangeRequest(conn: Connection, id: string, body: Approval) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/approve", {
      ...changeRequestPath(conn, id),
      body,
    }),
  );
}

export function rejectChangeRequest(conn: Connection, id: string, body: Rejection) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/reject", {
      ...changeRequestPath(conn, id),
      body,
    }),
  );
}

/** The approved change as files to apply by hand: playbook, inventory, diff, verification, approvals. */
export function exportChangeRequest(conn: Connection, id: string) {
  return unwrap(
    conn.client.GET("/v1/orgs/{slug}/change-requests/{changeRequestId}/export", changeRequestPath(conn, id)),
  );
}

/** Runs the approved playbook against the source VM (or only checks it, with check_only). */
export function applyChangeRequest(conn: Connection, id: string, body: ApplyOptions) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/change-requests/{changeRequestId}/apply", {
      ...changeRequestPath(conn, id),
      body,
    }),
  );
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
