import { unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";

/** File calls on a RUNNING sandbox's disk, shared by the commands and the MCP tools. */
function filesPath(conn: Connection, id: string, path: string) {
  return { params: { path: { slug: conn.org, id }, query: { path } } };
}

/** A file's bytes, up to the server's file limit (`truncated` says the rest was cut). */
export async function readSandboxFile(
  conn: Connection,
  id: string,
  path: string,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const file = await unwrap(conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/files", filesPath(conn, id, path)));
  return { bytes: Buffer.from(file.content_base64, "base64"), truncated: file.truncated };
}

export interface FileWrite {
  path: string;
  content: Buffer;
  /** Octal permission bits, e.g. "0644"; the server keeps an existing file's mode without it. */
  mode?: string | undefined;
}

export function writeSandboxFile(conn: Connection, id: string, file: FileWrite) {
  return unwrap(
    conn.client.PUT("/v1/orgs/{slug}/sandboxes/{id}/files", {
      params: { path: { slug: conn.org, id } },
      body: {
        path: file.path,
        content_base64: file.content.toString("base64"),
        ...(file.mode ? { mode: file.mode } : {}),
      },
    }),
  );
}

export function listSandboxFiles(conn: Connection, id: string, path: string) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/files/list", filesPath(conn, id, path)));
}
