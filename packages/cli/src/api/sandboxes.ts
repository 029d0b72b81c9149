import { type Sandbox, streamExec, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import { allPages, PAGE_SIZE } from "./pages.js";
import type { BodyOf, QueryOf } from "./types.js";

/** Sandbox lifecycle calls shared by the commands and the MCP tools. */
function sandboxPath(conn: Connection, id: string) {
  return { params: { path: { slug: conn.org, id } } };
}

export async function listSandboxes(conn: Connection, includeEnded: boolean): Promise<Sandbox[]> {
  return allPages(async (offset) => {
    const page = await unwrap(
      conn.client.GET("/v1/orgs/{slug}/sandboxes", {
        params: {
          path: { slug: conn.org },
          query: { limit: PAGE_SIZE, offset, include_ended: includeEnded ? "true" : "false" },
        },
      }),
    );
    return { items: page.sandboxes, next_offset: page.next_offset };
  });
}

/** The first page of the org's live sandboxes (what an agent is shown; a long list would not help it). */
export function firstSandboxes(conn: Connection) {
  return unwrap(
    conn.client.GET("/v1/orgs/{slug}/sandboxes", { params: { path: { slug: conn.org }, query: { limit: PAGE_SIZE } } }),
  );
}

export function getSandbox(conn: Connection, id: string): Promise<Sandbox> {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}", sandboxPath(conn, id)));
}

export type CreateSandbox = BodyOf<"/v1/orgs/{slug}/sandboxes", "post">;

/** Asks for a sandbox without waiting for it to boot: the reply is CREATING, poll getSandbox for RUNNING. */
export function createSandbox(conn: Connection, body: CreateSandbox): Promise<Sandbox> {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes", {
      params: { path: { slug: conn.org }, query: { wait: "false" } },
      body,
    }),
  );
}

export function destroySandbox(conn: Connection, id: string): Promise<Sandbox> {
  return unwrap(conn.client.DELETE("/v1/orgs/{slug}/sandboxes/{id}", sandboxPath(conn, id)));
}

export function startSandbox(conn: Connection, id: string): Promise<Sandbox> {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/start", sandboxPath(conn, id)));
}

export function stopSandbox(conn: Connection, id: string, force: boolean): Promise<Sandbox> {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/stop", { ...sandboxPath(conn, id), body: { force } }));
}

export function extendSandbox(conn: Connection, id: string, ttlSeconds: number): Promise<Sandbox> {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/extend", {
      ...sandboxPath(conn, id),
      body: { ttl_seconds: ttlSeconds },
    }),
  );
}

export type EgressRules = BodyOf<"/v1/orgs/{slug}/sandboxes/{id}/egress", "put">;

export function setEgress(conn: Connection, id: string, rules: EgressRules): Promise<Sandbox> {
  return unwrap(conn.client.PUT("/v1/orgs/{slug}/sandboxes/{id}/egress", { ...sandboxPath(conn, id), body: rules }));
}

export type RunCommand = BodyOf<"/v1/orgs/{slug}/sandboxes/{id}/run", "post">;

/** Runs a command and answers once it has exited, with its output buffered. */
export function runCommand(conn: Connection, id: string, body: RunCommand) {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/run", { ...sandboxPath(conn, id), body }));
}

export interface StreamedCommand {
  command: string;
  timeoutSeconds?: number;
  env?: Record<string, string>;
}

/** Runs a command and yields its output as it arrives, then its exit. */
export function streamCommand(conn: Connection, id: string, input: StreamedCommand) {
  return streamExec(conn.client, { org: conn.org, sandbox: id, ...input });
}

/** Every command run in a sandbox, oldest first. */
export function commandLog(conn: Connection, id: string) {
  return allPages(async (offset) => {
    const page = await unwrap(
      conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/commands", {
        params: { path: { slug: conn.org, id }, query: { limit: PAGE_SIZE, offset } },
      }),
    );
    return { items: page.commands, next_offset: page.next_offset };
  });
}

/** What changed on a sandbox's disk since it was cloned; `noise` overrides the noise policy (JSON). */
export function sandboxDiff(conn: Connection, id: string, noise: string | undefined) {
  const query: QueryOf<"/v1/orgs/{slug}/sandboxes/{id}/diff", "get"> = noise === undefined ? {} : { noise };
  return unwrap(
    conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/diff", { params: { path: { slug: conn.org, id }, query } }),
  );
}

export type ForkSandbox = BodyOf<"/v1/orgs/{slug}/sandboxes/{id}/fork", "post">;

export function forkSandbox(conn: Connection, id: string, body: ForkSandbox) {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/fork", { ...sandboxPath(conn, id), body }));
}
