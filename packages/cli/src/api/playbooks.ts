import { unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import type { BodyOf } from "./types.js";

/** Playbook calls shared by the commands and the MCP tools. */
export type CreatePlaybook = BodyOf<"/v1/orgs/{slug}/playbooks", "post">;
export type AddTask = BodyOf<"/v1/orgs/{slug}/playbooks/{playbookId}/tasks", "post">;

function playbookPath(conn: Connection, playbookId: string) {
  return { params: { path: { slug: conn.org, playbookId } } };
}

export function createPlaybook(conn: Connection, body: CreatePlaybook) {
  return unwrap(conn.client.POST("/v1/orgs/{slug}/playbooks", { params: { path: { slug: conn.org } }, body }));
}

export function listPlaybooks(conn: Connection) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/playbooks", { params: { path: { slug: conn.org } } }));
}

export function getPlaybook(conn: Connection, playbookId: string) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/playbooks/{playbookId}", playbookPath(conn, playbookId)));
}

export function deletePlaybook(conn: Connection, playbookId: string) {
  return unwrap(conn.client.DELETE("/v1/orgs/{slug}/playbooks/{playbookId}", playbookPath(conn, playbookId)));
}

/** The playbook as Ansible YAML (one play). */
export function renderPlaybook(conn: Connection, playbookId: string) {
  return unwrap(conn.client.GET("/v1/orgs/{slug}/playbooks/{playbookId}/render", playbookPath(conn, playbookId)));
}

export function addTask(conn: Connection, playbookId: string, body: AddTask) {
  return unwrap(
    conn.client.POST("/v1/orgs/{slug}/playbooks/{playbookId}/tasks", { ...playbookPath(conn, playbookId), body }),
  );
}

export function removeTask(conn: Connection, playbookId: string, taskId: string) {
  return unwrap(
    conn.client.DELETE("/v1/orgs/{slug}/playbooks/{playbookId}/tasks/{taskId}", {
      params: { path: { slug: conn.org, playbookId, taskId } },
    }),
  );
}
