import type { ProcessSignal } from "@fluid/proto";
import { type components, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import type { BodyOf } from "./types.js";

/** Background-process calls shared by the commands and the MCP tools. */
export type SandboxProcess = components["schemas"]["Process"];

function processPath(conn: Connection, id: string, processId: string) {
  return { params: { path: { slug: conn.org, id, processId } } };
}

export type StartProcess = BodyOf<"/v1/orgs/{slug}/sandboxes/{id}/processes", "post">;

export function startProcess(conn: Connection, id: string, body: StartProcess) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/processes", { params: { path: { slug: conn.org, id } }, body }),
  );
}

export async function listProcesses(conn: Connection, id: string): Promise<SandboxProcess[]> {
  const { processes } = await unwrap(
    conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/processes", { params: { path: { slug: conn.org, id } } }),
  );
  return processes;
}

export function getProcess(conn: Connection, id: string, processId: string): Promise<SandboxProcess> {
  return unwrap(
    conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/processes/{processId}", processPath(conn, id, processId)),
  );
}

/** Output from the given byte offsets of stdout and stderr on (each read resumes where the last one ended). */
export function processLog(conn: Connection, id: string, processId: string, from: { offset: number; stderr: number }) {
  return unwrap(
    conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/logs", {
      params: { path: { slug: conn.org, id, processId }, query: { offset: from.offset, stderr_offset: from.stderr } },
    }),
  );
}

export function writeStdin(conn: Connection, id: string, processId: string, data: Buffer) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/stdin", {
      ...processPath(conn, id, processId),
      body: { data_base64: data.toString("base64") },
    }),
  );
}

export function signalProcess(conn: Connection, id: string, processId: string, signal: ProcessSignal) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/processes/{processId}/signal", {
      ...processPath(conn, id, processId),
      body: { signal },
    }),
  );
}
