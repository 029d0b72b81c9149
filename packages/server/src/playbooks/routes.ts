import { z } from "zod";
import type { AppContext } from "../context.js";
import type { PlaybookTask } from "../db/schema.js";
import { errorResponses, FreeText, iso, OrgParams, Status, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { acceptedModuleNames, type ModuleName, moduleNames, playbookLimits, resolveModule } from "./modules.js";
import { renderPlaybook } from "./render.js";
import {
  addTask,
  createPlaybook,
  deletePlaybook,
  deleteTask,
  getPlaybook,
  listPlaybooks,
  listTasks,
  type PlaybookRow,
  reorderTasks,
  updatePlaybook,
  updateTask,
} from "./store.js";

/** One line of text: no control characters, nothing PostgreSQL cannot store. */
const Line = (max: number) =>
  FreeText.trim()
    .min(1)
    .max(max)
    .refine((s) => !/\p{Cc}/u.test(s), { message: "must be one line of text without control characters" });

const PlaybookName = Line(128).describe("unique within the organization; also the play's name");
const Description = FreeText.max(4096);
const Hosts = z
  .string()
  .regex(
    /^[A-Za-z0-9_.*:!&,[\]-]{1,255}$/,
    "must be an Ansible host pattern (letters, digits and _ . - * : ! & , [ ]), e.g. all or webservers:&prod",
  );
const TaskName = Line(256);
const Module = z
  .enum(acceptedModuleNames as [string, ...string[]], {
    message: `must be one of the allowed Ansible modules: ${Object.keys(moduleNames).join(", ")} (short or fully-qualified name)`,
  })
  .describe("stored and returned fully qualified, e.g. ansible.builtin.copy");
const Params = z
  .record(z.string(), z.unknown(), { message: "must be a JSON object of module arguments" })
  .describe(
    `module arguments (a JSON object, at most ${playbookLimits.maxParamsBytes} bytes); ` +
      "command/shell tasks need creates or removes here, or the task's changed_when",
  );
const ChangedWhen = z
  .union([z.boolean(), Line(playbookLimits.maxChangedWhenLength)])
  .describe("task keyword: a boolean or a Jinja conditional (e.g. \"'installed' in result.stdout\")");

const CreateBody = z.strictObject({
  name: PlaybookName,
  description: Description.default(""),
  hosts: Hosts.default("all"),
  become: z.boolean().default(false),
});

const UpdateBody = z.strictObject({
  name: PlaybookName.optional(),
  description: Description.optional(),
  hosts: Hosts.optional(),
  become: z.boolean().optional(),
});

const CreateTaskBody = z.strictObject({
  name: TaskName,
  module: Module,
  params: Params.default({}),
  changed_when: ChangedWhen.optional(),
  position: z
    .number()
    .int()
    .min(0)
    .max(playbookLimits.maxTasks)
    .optional()
    .describe("0-based place to insert at; default: after the last task"),
});

const UpdateTaskBody = z.strictObject({
  name: TaskName.optional(),
  module: Module.optional(),
  params: Params.optional(),
  changed_when: ChangedWhen.nullable().optional().describe("null removes it"),
});

const ReorderBody = z.strictObject({
  task_ids: z.array(Uuid).max(playbookLimits.maxTasks).describe("every task id of the playbook, in the new order"),
});

const RenderQuery = z.strictObject({
  format: z
    .enum(["json", "yaml"])
    .default("json")
    .describe("yaml: answer the playbook itself as application/yaml instead of the JSON envelope"),
});

const PlaybookSchema = z
  .object({
    id: z.uuid(),
    org_id: z.uuid(),
    name: z.string(),
    description: z.string(),
    hosts: z.string(),
    become: z.boolean(),
    task_count: z.number().int(),
    created_by: z.uuid(),
    created_at: Timestamp,
    updated_at: Timestamp.describe("moves on every change to the playbook or its tasks"),
  })
  .meta({ id: "Playbook" });

const PlaybookTaskSchema = z
  .object({
    id: z.uuid(),
    playbook_id: z.uuid(),
    position: z.number().int().describe("0-based; dense and ordered within the playbook"),
    name: z.string(),
    module: z.string(),
    params: z.record(z.string(), z.unknown()),
    changed_when: z.union([z.boolean(), z.string()]).nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .meta({ id: "PlaybookTask" });

const TaskList = z.object({ tasks: z.array(PlaybookTaskSchema), count: z.number().int() });

function playbookView(row: PlaybookRow): z.infer<typeof PlaybookSchema> {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    description: row.description,
    hosts: row.hosts,
    become: row.become,
    task_count: row.task_count,
    created_by: row.created_by,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

function taskView(row: PlaybookTask): z.infer<typeof PlaybookTaskSchema> {
  return {
    id: row.id,
    playbook_id: row.playbook_id,
    position: row.position,
    name: row.name,
    module: row.module,
    params: row.params,
    changed_when: row.changed_when,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** Playbooks (SPEC §7): ordered Ansible tasks an agent or reviewer edits, rendered as a one-play YAML file. */
export function playbookRoutes(app: App, ctx: AppContext): void {
  const { db } = ctx;
  const PlaybookParams = z.strictObject({ slug: OrgParams.shape.slug, playbookId: Uuid });
  const TaskParams = z.strictObject({ slug: OrgParams.shape.slug, playbookId: Uuid, taskId: Uuid });
  const moduleOf = (name: string): ModuleName => resolveModule(name) as ModuleName;

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

  app.post(
    "/v1/orgs/:slug/playbooks/:playbookId/tasks",
    {
      schema: {
        operationId: "addPlaybookTask",
        tags: ["playbooks"],
        summary: "Add a task (its author, or an admin); appended unless a position is given",
        security: securityAny,
        params: PlaybookParams,
        body: CreateTaskBody,
        response: { 201: PlaybookTaskSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      const task = await addTask(
        db,
        scope,
        request.params.playbookId,
        { name: body.name, module: moduleOf(body.module), params: body.params, changedWhen: body.changed_when ?? null },
        body.position,
      );
      return reply.code(201).send(taskView(task));
    },
  );

  app.get(
    "/v1/orgs/:slug/playbooks/:playbookId/tasks",
    {
      schema: {
        operationId: "listPlaybookTasks",
        tags: ["playbooks"],
        summary: "The playbook's tasks in order",
        security: securityAny,
        params: PlaybookParams,
        response: { 200: TaskList, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const playbook = await getPlaybook(db, scope, request.params.playbookId);
      const tasks = await listTasks(db, scope, playbook.id);
      return { tasks: tasks.map(taskView), count: tasks.length };
    },
  );

  app.put(
    "/v1/orgs/:slug/playbooks/:playbookId/tasks/reorder",
    {
      schema: {
        operationId: "reorderPlaybookTasks",
        tags: ["playbooks"],
        summary: "Put the tasks in a new order (its author, or an admin); task_ids must list every task exactly once",
        security: securityAny,
        params: PlaybookParams,
        body: ReorderBody,
        response: { 200: TaskList, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const tasks = await reorderTasks(db, scope, request.params.playbookId, request.body.task_ids);
      return { tasks: tasks.map(taskView), count: tasks.length };
    },
  );

  app.patch(
    "/v1/orgs/:slug/playbooks/:playbookId/tasks/:taskId",
    {
      schema: {
        operationId: "updatePlaybookTask",
        tags: ["playbooks"],
        summary: "Change a task's name, module, params or changed_when (its author, or an admin)",
        security: securityAny,
        params: TaskParams,
        body: UpdateTaskBody,
        response: { 200: PlaybookTaskSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      const task = await updateTask(db, scope, request.params.playbookId, request.params.taskId, {
        name: body.name,
        module: body.module === undefined ? undefined : moduleOf(body.module),
        params: body.params,
        changedWhen: body.changed_when,
      });
      return taskView(task);
    },
  );

  app.delete(
    "/v1/orgs/:slug/playbooks/:playbookId/tasks/:taskId",
    {
      schema: {
        operationId: "deletePlaybookTask",
        tags: ["playbooks"],
        summary: "Remove a task (its author, or an admin); the tasks after it move up",
        security: securityAny,
        params: TaskParams,
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      await deleteTask(db, scope, request.params.playbookId, request.params.taskId);
      return { status: "deleted" };
    },
  );
}
