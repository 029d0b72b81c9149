import { unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import type { BodyOf } from "./types.js";

/** Sandbox hosts and the tokens that register them. */
export function listHosts(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/hosts", { params: { path: { slug: conn.org } } }));
}

export type CreateHostToken = BodyOf<"/v1/orgs/{slug}/hosts/tokens", "post">;

export function createHostToken(conn: Connection, body: CreateHostToken) {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/hosts/tokens", { params: { path: { slug: conn.org } }, body }));
}

export function listHostTokens(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/hosts/tokens", { params: { path: { slug: conn.org } } }));
}

export function revokeHostToken(conn: Connection, tokenId: string) {
  return unwrap(
    conn.client.DELETE("/v1/orgs/{slug}/hosts/tokens/{tokenId}", { params: { path: { slug: conn.org, tokenId } } }),
  );
}
