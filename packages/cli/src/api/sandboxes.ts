import { type Sandbox, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import { allPages, PAGE_SIZE } from "./pages.js";

/** Sandbox reads shared by the commands. */
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

export function getSandbox(conn: Connection, id: string): Promise<Sandbox> {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}", { params: { path: { slug: conn.org, id } } }));
}
