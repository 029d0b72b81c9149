import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { errorResponses, OrgParams, Status, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { renderPlaybook } from "./render.js";
import {
  CreateBody,
  PlaybookParams,
  PlaybookSchema,
  PlaybookTaskSchema,
  playbookView,
  RenderQuery,
  taskView,
  UpdateBody,
} from "./schemas.js";
import { createPlaybook, deletePlaybook, getPlaybook, listPlaybooks, listTasks, updatePlaybook } from "./store.js";
import { playbookTaskRoutes } from "./task-routes.js";

/** Playbooks (SPEC §7): ordered Ansible tasks an agent or reviewer edits, rendered as a one-play YAML file. */
export function playbookRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache }): void {
  const { db } = ctx;

  app.post(
    "/v1/orgs/:slug/playbooks",
    {
      schema: {
        operationId: "createPlaybook",
        tags: ["playbooks"],
        summary: "Create a playbook (member)",
        security: securityAny,
        params: OrgParams,
        body: CreateBody,
        response: { 201: PlaybookSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return reply.code(201).send(playbookView(await createPlaybook(db, scope, request.body)));
    },
  );

  app.get(
    "/v1/orgs/:slug/playbooks",
    {
      schema: {
        operationId: "listPlaybooks",
        tags: ["playbooks"],
        summary: "Playbooks of the organization, newest first",
        security: securityAny,
        params: OrgParams,
        response: { 200: z.object({ playbooks: z.array(PlaybookSchema), count: z.number().int() }), ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await listPlaybooks(db, scope);
      return { playbooks: rows.map(playbookView), count: rows.length };
    },
  );

  app.get(
    "/v1/orgs/:slug/playbooks/:playbookId",
    {
      schema: {
        operationId: "getPlaybook",
        tags: ["playbooks"],
        summary: "One playbook with its tasks in order",
        security: securityAny,
        params: PlaybookParams,
        response: {
          200: z.object({ playbook: PlaybookSchema, tasks: z.array(PlaybookTaskSchema) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const playbook = await getPlaybook(db, scope, request.params.playbookId);
      const tasks = await listTasks(db, scope, playbook.id);
      return { playbook: playbookView(playbook), tasks: tasks.map(taskView) };
    },
  );

  app.patch(
    "/v1/orgs/:slug/playbooks/:playbookId",
    {
      schema: {
        operationId: "updatePlaybook",
        tags: ["playbooks"],
        summary: "Rename a playbook or change its description, hosts or become (its author, or an admin)",
        security: securityAny,
        params: PlaybookParams,
        body: UpdateBody,
        response: { 200: PlaybookSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      return playbookView(await updatePlaybook(db, scope, request.params.playbookId, request.body));
    },
  );

  app.delete(
    "/v1/orgs/:slug/playbooks/:playbookId",
    {
      schema: {
        operationId: "deletePlaybook",
        tags: ["playbooks"],
        summary: "Delete a playbook and its tasks (its author, or an admin)",
        security: securityAny,
        params: PlaybookParams,
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      await deletePlaybook(db, scope, request.params.playbookId);
      return { status: "deleted" };
    },
  );

  app.get(
    "/v1/orgs/:slug/playbooks/:playbookId/render",
    {
      schema: {
        operationId: "renderPlaybook",
        tags: ["playbooks"],
        summary: "The playbook as Ansible YAML (one play); ?format=yaml answers the file itself",
        security: securityAny,
        params: PlaybookParams,
        querystring: RenderQuery,
        response: {
          200: {
            description: "the rendered playbook: a JSON envelope, or with ?format=yaml the file itself",
            content: {
              "application/json": { schema: z.object({ playbook_id: z.uuid(), yaml: z.string() }) },
              "application/yaml": { schema: z.string() },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const playbook = await getPlaybook(db, scope, request.params.playbookId);
      const yaml = renderPlaybook(playbook, await listTasks(db, scope, playbook.id));
      if (request.query.format === "yaml") {
        // A string with a non-JSON content type is sent as is, past the JSON response serializer.
        return reply.type("application/yaml; charset=utf-8").send(yaml as never);
      }
      return { playbook_id: playbook.id, yaml };
    },
  );
  playbookTaskRoutes(app, ctx);
}
