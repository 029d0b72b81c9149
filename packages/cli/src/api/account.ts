import { type FluidClient, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import type { BodyOf } from "./types.js";

/**
 * Who the credentials are and the org they act in. The first two take a bare client: login asks them
 * before there is an org to connect to.
 */
export async function currentUser(client: FluidClient) {
  const { user } = await unwrap(client.GET("/v1/auth/me"));
  return user;
}

export async function visibleOrgs(client: FluidClient) {
  const { organizations } = await unwrap(client.GET("/v1/orgs"));
  return organizations;
}

export function getOrg(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}", { params: { path: { slug: conn.org } } }));
}

export function orgMembers(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/members", { params: { path: { slug: conn.org } } }));
}

export type Invite = BodyOf<"/v1/orgs/{slug}/invitations", "post">;

export function invite(conn: Connection, body: Invite) {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/invitations", { params: { path: { slug: conn.org } }, body }));
}

export function listInvitations(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/invitations", { params: { path: { slug: conn.org } } }));
}

export function revokeInvitation(conn: Connection, invitationId: string) {
  return unwrap(
    conn.client.DELETE("/v1/orgs/{slug}/invitations/{invitationId}", {
      params: { path: { slug: conn.org, invitationId } },
    }),
  );
}

/** Joins the org an invitation is for; the token, not the connection's org, says which. */
export function acceptInvitation(conn: Connection, token: string) {
  return unwrap(conn.client.POST("/v1/invitations/accept", { body: { token } }));
}
