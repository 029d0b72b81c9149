import type { Kysely } from "kysely";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { errorResponses, Status, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { type ModuleName, resolveModule } from "./modules.js";
import {
  CreateTaskBody,
  PlaybookParams,
  PlaybookTaskSchema,
  ReorderBody,
  TaskList,
  TaskParams,
  taskView,
  UpdateTaskBody,
} from "./schemas.js";
import { addTask, deleteTask, getPlaybook, listTasks, reorderTasks, updateTask } from "./store.js";

/** A playbook's tasks: added, listed, reordered, changed and removed one at a time. */
export function playbookTaskRoutes(app: App, ctx: { db: Kysely<DB>; access: AccessCache }): void {
  const { db } = ctx;
  const moduleOf = (name: string): ModuleName => resolveModule(name) as ModuleName;

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
