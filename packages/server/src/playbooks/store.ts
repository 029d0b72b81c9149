import type { Kysely, Transaction } from "kysely";
import { sql } from "kysely";
import { atLeast } from "../auth/roles.js";
import type { ChangedWhen, DB, Playbook, PlaybookTask } from "../db/schema.js";
import { conflict, forbidden, invalid, notFound } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { OrgScope } from "../orgs/access.js";
import { type ModuleName, playbookLimits, taskProblem } from "./modules.js";

/**
 * Playbook storage. Every statement carries `org_id = scope.orgId`, so an id from another org finds
 * nothing (404) rather than being fetched and compared. Task edits lock their playbook row first:
 * concurrent appends, deletes and reorders of one playbook run one after another and positions stay
 * dense (0…n-1).
 */

export type PlaybookRow = Playbook & { task_count: number };

export interface PlaybookFields {
  name: string;
  description: string;
  hosts: string;
  become: boolean;
}

export interface TaskFields {
  name: string;
  module: ModuleName;
  params: Record<string, unknown>;
  changedWhen: ChangedWhen | null;
}

const uniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";
const nameTaken = (name: string) => conflict(`a playbook named "${name.slice(0, 128)}" already exists`);

function playbooksOf(db: Kysely<DB>, orgId: string) {
  return db
    .selectFrom("playbooks as p")
    .selectAll("p")
    .select((eb) =>
      eb
        .selectFrom("playbook_tasks as t")
        .select((e) => e.fn.countAll<string>().as("n"))
        .whereRef("t.playbook_id", "=", "p.id")
        .where("t.org_id", "=", orgId)
        .as("task_count"),
    )
    .where("p.org_id", "=", orgId);
}

const withCount = (row: Playbook & { task_count: string | number | null }): PlaybookRow => ({
  ...row,
  task_count: Number(row.task_count ?? 0),
});

export async function listPlaybooks(db: Kysely<DB>, scope: OrgScope): Promise<PlaybookRow[]> {
  const rows = await playbooksOf(db, scope.orgId).orderBy("p.created_at", "desc").orderBy("p.id", "desc").execute();
  return rows.map(withCount);
}

export async function getPlaybook(db: Kysely<DB>, scope: OrgScope, id: string): Promise<PlaybookRow> {
  const row = await playbooksOf(db, scope.orgId).where("p.id", "=", id).executeTakeFirst();
  if (!row) throw notFound("playbook");
  return withCount(row);
}

export async function listTasks(db: Kysely<DB>, scope: OrgScope, playbookId: string): Promise<PlaybookTask[]> {
  return db
    .selectFrom("playbook_tasks")
    .selectAll()
    .where("org_id", "=", scope.orgId)
    .where("playbook_id", "=", playbookId)
    .orderBy("position", "asc")
    .execute();
}

export async function createPlaybook(db: Kysely<DB>, scope: OrgScope, fields: PlaybookFields): Promise<PlaybookRow> {
  const row = await db
    .insertInto("playbooks")
    .values({ id: newId(), org_id: scope.orgId, created_by: scope.principal.userId, ...fields })
    .returningAll()
    .executeTakeFirstOrThrow()
    .catch((err: unknown) => {
      throw uniqueViolation(err) ? nameTaken(fields.name) : err;
    });
  return { ...row, task_count: 0 };
}

export async function updatePlaybook(
  db: Kysely<DB>,
  scope: OrgScope,
  id: string,
  changes: Partial<PlaybookFields>,
): Promise<PlaybookRow> {
  await db.transaction().execute(async (tx) => {
    await lockPlaybook(tx, scope, id);
    await tx
      .updateTable("playbooks")
      .set({ ...changes, updated_at: new Date() })
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .execute()
      .catch((err: unknown) => {
        throw uniqueViolation(err) && changes.name !== undefined ? nameTaken(changes.name) : err;
      });
  });
  return getPlaybook(db, scope, id);
}

export async function deletePlaybook(db: Kysely<DB>, scope: OrgScope, id: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await lockPlaybook(tx, scope, id);
    await tx.deleteFrom("playbooks").where("id", "=", id).where("org_id", "=", scope.orgId).execute();
  });
}

/**
 * Locks the playbook row (in the caller's org) for the rest of the transaction: 404 if there is
 * none, 403 unless the caller wrote it or is an admin. Every change to a playbook, its tasks
 * included, goes through here, so one rule decides who may edit, re-task and delete it.
 */
async function lockPlaybook(tx: Transaction<DB>, scope: OrgScope, playbookId: string): Promise<void> {
  const row = await tx
    .selectFrom("playbooks")
    .select("created_by")
    .where("id", "=", playbookId)
    .where("org_id", "=", scope.orgId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw notFound("playbook");
  if (row.created_by !== scope.principal.userId && !atLeast(scope.role, "admin")) {
    throw forbidden("only the playbook's author or an admin can change it");
  }
}

/** Any task edit is an edit of the playbook: its updated_at moves (approvals bind to versions). */
async function touchPlaybook(tx: Transaction<DB>, scope: OrgScope, playbookId: string): Promise<void> {
  await tx
    .updateTable("playbooks")
    .set({ updated_at: new Date() })
    .where("id", "=", playbookId)
    .where("org_id", "=", scope.orgId)
    .execute();
}

async function taskCount(tx: Transaction<DB>, scope: OrgScope, playbookId: string): Promise<number> {
  const row = await tx
    .selectFrom("playbook_tasks")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("org_id", "=", scope.orgId)
    .where("playbook_id", "=", playbookId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function assertValid(task: TaskFields): void {
  const problem = taskProblem({ module: task.module, params: task.params, changedWhen: task.changedWhen });
  if (problem) throw invalid(problem);
}

/** Appends a task, or inserts it at `position` (0-based) and moves the later ones down. */
export async function addTask(
  db: Kysely<DB>,
  scope: OrgScope,
  playbookId: string,
  task: TaskFields,
  position?: number,
): Promise<PlaybookTask> {
  assertValid(task);
  return db.transaction().execute(async (tx) => {
    await lockPlaybook(tx, scope, playbookId);
    const count = await taskCount(tx, scope, playbookId);
    if (count >= playbookLimits.maxTasks) throw conflict(`a playbook holds at most ${playbookLimits.maxTasks} tasks`);
    if (position !== undefined && position > count)
      throw invalid(`position must be between 0 and ${count} (the number of tasks)`);
    const at = position ?? count;
    if (at < count) {
      await tx
        .updateTable("playbook_tasks")
        .set((eb) => ({ position: eb("position", "+", 1) }))
        .where("org_id", "=", scope.orgId)
        .where("playbook_id", "=", playbookId)
        .where("position", ">=", at)
        .execute();
    }
    const row = await tx
      .insertInto("playbook_tasks")
      .values({
        id: newId(),
        org_id: scope.orgId,
        playbook_id: playbookId,
        position: at,
        name: task.name,
        module: task.module,
        params: JSON.stringify(task.params),
        changed_when: task.changedWhen === null ? null : JSON.stringify(task.changedWhen),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await touchPlaybook(tx, scope, playbookId);
    return row;
  });
}

export async function getTask(
  db: Kysely<DB>,
  scope: OrgScope,
  playbookId: string,
  taskId: string,
): Promise<PlaybookTask> {
  const row = await db
    .selectFrom("playbook_tasks")
    .selectAll()
    .where("id", "=", taskId)
    .where("playbook_id", "=", playbookId)
    .where("org_id", "=", scope.orgId)
    .executeTakeFirst();
  if (!row) throw notFound("task");
  return row;
}

/** Applies a partial change; the task as it would be afterwards must still pass validation. */
export async function updateTask(
  db: Kysely<DB>,
  scope: OrgScope,
  playbookId: string,
  taskId: string,
  changes: Partial<TaskFields>,
): Promise<PlaybookTask> {
  return db.transaction().execute(async (tx) => {
    await lockPlaybook(tx, scope, playbookId);
    const current = await getTask(tx, scope, playbookId, taskId);
    const next: TaskFields = {
      name: changes.name ?? current.name,
      module: changes.module ?? (current.module as ModuleName),
      params: changes.params ?? current.params,
      changedWhen: changes.changedWhen !== undefined ? changes.changedWhen : current.changed_when,
    };
    assertValid(next);
    const row = await tx
      .updateTable("playbook_tasks")
      .set({
        name: next.name,
        module: next.module,
        params: JSON.stringify(next.params),
        changed_when: next.changedWhen === null ? null : JSON.stringify(next.changedWhen),
        updated_at: new Date(),
      })
      .where("id", "=", taskId)
      .where("playbook_id", "=", playbookId)
      .where("org_id", "=", scope.orgId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await touchPlaybook(tx, scope, playbookId);
    return row;
  });
}

/** Removes a task and closes the gap it leaves. */
export async function deleteTask(db: Kysely<DB>, scope: OrgScope, playbookId: string, taskId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await lockPlaybook(tx, scope, playbookId);
    const removed = await tx
      .deleteFrom("playbook_tasks")
      .where("id", "=", taskId)
      .where("playbook_id", "=", playbookId)
      .where("org_id", "=", scope.orgId)
      .returning("position")
      .executeTakeFirst();
    if (!removed) throw notFound("task");
    await tx
      .updateTable("playbook_tasks")
      .set((eb) => ({ position: eb("position", "-", 1) }))
      .where("org_id", "=", scope.orgId)
      .where("playbook_id", "=", playbookId)
      .where("position", ">", removed.position)
      .execute();
    await touchPlaybook(tx, scope, playbookId);
  });
}

/** Puts the tasks in the given order; the list must name every task of the playbook exactly once. */
export async function reorderTasks(
  db: Kysely<DB>,
  scope: OrgScope,
  playbookId: string,
  taskIds: readonly string[],
): Promise<PlaybookTask[]> {
  return db.transaction().execute(async (tx) => {
    await lockPlaybook(tx, scope, playbookId);
    const current = await tx
      .selectFrom("playbook_tasks")
      .select("id")
      .where("org_id", "=", scope.orgId)
      .where("playbook_id", "=", playbookId)
      .execute();
    const known = new Set(current.map((t) => t.id));
    const given = new Set(taskIds.map((id) => id.toLowerCase()));
    const exact = given.size === taskIds.length && given.size === known.size && [...given].every((id) => known.has(id));
    if (!exact) {
      throw invalid(
        `task_ids must list each of the playbook's ${known.size} tasks exactly once` +
          (given.size !== taskIds.length ? " (it repeats an id)" : ""),
      );
    }
    if (taskIds.length > 0) {
      const cases = sql.join(
        taskIds.map((id, index) => sql`WHEN ${id.toLowerCase()}::uuid THEN ${index}::integer`),
        sql` `,
      );
      await tx
        .updateTable("playbook_tasks")
        .set({ position: sql<number>`CASE id ${cases} END` })
        .where("org_id", "=", scope.orgId)
        .where("playbook_id", "=", playbookId)
        .execute();
    }
    await touchPlaybook(tx, scope, playbookId);
    return listTasks(tx, scope, playbookId);
  });
}
