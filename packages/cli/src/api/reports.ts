import { unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import type { QueryOf } from "./types.js";

/** The org's records: the audit trail, usage and quotas. */
export type AuditQuery = QueryOf<"/v1/orgs/{slug}/audit", "get">;

/** One page of audit events, newest first; `next_before_seq` continues it. */
export function auditPage(conn: Connection, query: AuditQuery) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/audit", { params: { path: { slug: conn.org }, query } }));
}

/** Re-checks the audit hash chain on the server. */
export function verifyAudit(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/audit/verify", { params: { path: { slug: conn.org } } }));
}

export type UsageQuery = QueryOf<"/v1/orgs/{slug}/usage", "get">;

export function usage(conn: Connection, query: UsageQuery) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/usage", { params: { path: { slug: conn.org }, query } }));
}

export function quotas(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/quotas", { params: { path: { slug: conn.org } } }));
}
