/** The playbook API's request and response shapes (OpenAPI components), and the row → response views. */
import { z } from "zod";
import type { PlaybookTask } from "../db/schema.js";
import { FreeText, iso, OrgParams, Timestamp, Uuid } from "../http/schemas.js";
import { acceptedModuleNames, moduleNames, playbookLimits } from "./modules.js";
import type { PlaybookRow } from "./store.js";

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

export const CreateBody = z.strictObject({
  name: PlaybookName,
  description: Description.default(""),
  hosts: Hosts.default("all"),
  become: z.boolean().default(false),
});

export const UpdateBody = z.strictObject({
  name: PlaybookName.optional(),
  description: Description.optional(),
  hosts: Hosts.optional(),
  become: z.boolean().optional(),
});

export const CreateTaskBody = z.strictObject({
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

export const UpdateTaskBody = z.strictObject({
  name: TaskName.optional(),
  module: Module.optional(),
  params: Params.optional(),
  changed_when: ChangedWhen.nullable().optional().describe("null removes it"),
});

export const ReorderBody = z.strictObject({
  task_ids: z.array(Uuid).max(playbookLimits.maxTasks).describe("every task id of the playbook, in the new order"),
});

export const RenderQuery = z.strictObject({
  format: z
    .enum(["json", "yaml"])
    .default("json")
    .describe("yaml: answer the playbook itself as application/yaml instead of the JSON envelope"),
});

export const PlaybookSchema = z
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

export const PlaybookTaskSchema = z
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

export const TaskList = z.object({ tasks: z.array(PlaybookTaskSchema), count: z.number().int() });

export function playbookView(row: PlaybookRow): z.infer<typeof PlaybookSchema> {
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

export function taskView(row: PlaybookTask): z.infer<typeof PlaybookTaskSchema> {
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

export const PlaybookParams = z.strictObject({ slug: OrgParams.shape.slug, playbookId: Uuid });
export const TaskParams = z.strictObject({ slug: OrgParams.shape.slug, playbookId: Uuid, taskId: Uuid });
