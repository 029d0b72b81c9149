import { type Snapshot, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";

/** Snapshot calls shared by the commands and the MCP tools. */
function sandboxPath(conn: Connection, id: string) {
  return { params: { path: { slug: conn.org, id } } };
}

export function takeSnapshot(conn: Connection, id: string, input: { name: string; includeMemory: boolean }) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/snapshot", {
      ...sandboxPath(conn, id),
      body: { name: input.name, include_memory: input.includeMemory },
    }),
  );
}

export function listSnapshots(conn: Connection, id: string): Promise<{ snapshots: Snapshot[]; count: number }> {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/snapshots", sandboxPath(conn, id)));
}

export function restoreSnapshot(conn: Connection, id: string, snapshotId: string) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/restore", {
      ...sandboxPath(conn, id),
      body: { snapshot_id: snapshotId },
    }),
  );
}

export function deleteSnapshot(conn: Connection, id: string, snapshotId: string) {
  return unwrap(
    conn.client.DELETE("/v1/orgs/{slug}/sandboxes/{id}/snapshots/{snapshotId}", {
      params: { path: { slug: conn.org, id, snapshotId } },
    }),
  );
}
