import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { type AddTask, addTask, createPlaybook, getPlaybook, listPlaybooks, renderPlaybook } from "../api/playbooks.js";
import { boundHead } from "./bounded.js";
import { defineTool, type ToolContext } from "./tool.js";

const PlaybookId = z.uuid({ message: "must be a playbook id (a UUID, as returned by create_playbook)" });

const ChangedWhen = z.union([z.boolean(), z.string().min(1)]);

const Playbook = {
  id: z.string(),
  name: z.string(),
  description: z.string(),
  hosts: z.string(),
  become: z.boolean(),
  created_at: z.string(),
};

const Task = z.object({
  id: z.string(),
  playbook_id: z.string(),
  position: z.number().int().describe("0-based order in the play"),
  name: z.string(),
  module: z.string().describe("fully qualified, e.g. ansible.builtin.copy"),
  params: z.record(z.string(), z.unknown()),
  changed_when: ChangedWhen.nullable(),
});

export function registerPlaybookTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "create_playbook", {
    title: "Create a playbook",
    description:
      "Start an Ansible playbook (one play) that records the changes that worked in a sandbox, so they can " +
      "be reviewed and applied to the real hosts. Add its steps with add_playbook_task; names are unique " +
      "within the organization.",
    input: z.strictObject({
      name: z.string().min(1).describe("the playbook's (and play's) name, e.g. configure-nginx"),
      hosts: z.string().optional().describe("Ansible host pattern the play targets (default all)"),
      become: z.boolean().optional().describe("run the tasks with privilege escalation (default false)"),
      description: z.string().optional().describe("what the playbook is for"),
    }),
    output: z.object(Playbook),
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run(args) {
      const p = await createPlaybook(await ctx.api(), args);
      return {
        data: {
          id: p.id,
          name: p.name,
          description: p.description,
          hosts: p.hosts,
          become: p.become,
          created_at: p.created_at,
        },
      };
    },
  });

  defineTool(server, "add_playbook_task", {
    title: "Add a task to a playbook",
    description:
      "Append a task to a playbook: one Ansible module call with its arguments, e.g. module apt with params " +
      '{"name": "nginx", "state": "present"}. Common modules: apt, copy, template, lineinfile, file, systemd, ' +
      "service, user, shell (the server names every allowed module if it refuses one). command and shell " +
      "tasks need creates or removes in params, or changed_when, so a second run of the playbook changes nothing.",
    input: z.strictObject({
      playbook_id: PlaybookId,
      name: z.string().min(1).describe("what the task does, e.g. Install nginx"),
      module: z.string().min(1).describe("the Ansible module, short (copy) or fully qualified (ansible.builtin.copy)"),
      params: z.record(z.string(), z.unknown()).optional().describe("the module's arguments as a JSON object"),
      changed_when: ChangedWhen.optional().describe("Ansible changed_when: a boolean or a Jinja condition"),
    }),
    output: Task,
    hints: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async run({ playbook_id, name, module, params, changed_when }) {
      // The server checks the module against its list and names the allowed ones when it refuses.
      const task = await addTask(await ctx.api(), playbook_id, {
        name,
        module: module as AddTask["module"],
        params,
        changed_when,
      });
      return { data: taskView(task) };
    },
  });

  defineTool(server, "list_playbooks", {
    title: "List playbooks",
    description: "List the organization's playbooks, newest first, with how many tasks each has.",
    input: z.strictObject({}),
    output: z.object({
      playbooks: z.array(z.object({ ...Playbook, task_count: z.number().int(), updated_at: z.string() })),
      count: z.number().int(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run() {
      const list = await listPlaybooks(await ctx.api());
      const playbooks = list.playbooks.map((p) => ({
        id: p.id,
        name: p.name,
        description: p.description,
        hosts: p.hosts,
        become: p.become,
        task_count: p.task_count,
        created_at: p.created_at,
        updated_at: p.updated_at,
      }));
      return { data: { playbooks, count: list.count } };
    },
  });

  defineTool(server, "get_playbook", {
    title: "Get a playbook",
    description:
      "One playbook: its tasks in order and the Ansible YAML they render to. Use this, not read_file, to " +
      "look at a playbook.",
    input: z.strictObject({ playbook_id: PlaybookId }),
    output: z.object({
      ...Playbook,
      updated_at: z.string(),
      tasks: z.array(Task),
      yaml_content: z.string().describe("the rendered playbook (cut with a marker if very large)"),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ playbook_id }) {
      const api = await ctx.api();
      const { org } = api;
      const [{ playbook: p, tasks }, rendered] = await Promise.all([
        getPlaybook(api, playbook_id),
        renderPlaybook(api, playbook_id),
      ]);
      const yaml = boundHead(
        rendered.yaml,
        `GET /v1/orgs/${org}/playbooks/${playbook_id}/render?format=yaml returns the whole file`,
      );
      return {
        data: {
          id: p.id,
          name: p.name,
          description: p.description,
          hosts: p.hosts,
          become: p.become,
          created_at: p.created_at,
          updated_at: p.updated_at,
          tasks: tasks.map(taskView),
          yaml_content: yaml.text,
        },
        text: `playbook ${p.name} (${p.id}), ${tasks.length} task${tasks.length === 1 ? "" : "s"}:\n\n${yaml.text}`,
      };
    },
  });
}

function taskView(t: z.output<typeof Task>): z.output<typeof Task> {
  return {
    id: t.id,
    playbook_id: t.playbook_id,
    position: t.position,
    name: t.name,
    module: t.module,
    params: t.params,
    changed_when: t.changed_when,
  };
}
