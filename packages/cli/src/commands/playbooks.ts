import { type Command, InvalidArgumentError } from "commander";
import {
  type AddTask,
  addTask,
  createPlaybook,
  deletePlaybook,
  getPlaybook,
  listPlaybooks,
  removeTask,
  renderPlaybook,
} from "../api/playbooks.js";
import type { Connection } from "../connection.js";
import { CliError, details, relative, table, when } from "../output.js";
import { connectFor, emit, isUuid, positiveInteger } from "./shared.js";

const PLAYBOOK_ARG = "playbook id or name";

/** `playbook …`: ordered Ansible tasks that reproduce a change, rendered as a playbook file. */
export function registerPlaybookCommands(program: Command): void {
  const playbook = program
    .command("playbook")
    .description("Ansible playbooks: ordered tasks that reproduce a change, rendered as YAML");

  playbook
    .command("create")
    .description("create an empty playbook; add tasks with fluid playbook task add")
    .argument("<name>", "unique within the organization; also the play's name")
    .option("--description <text>", "what the playbook is for")
    .option("--hosts <pattern>", "Ansible host pattern the play targets (default: all)")
    .option("--become", "run the play's tasks as root (become: true)")
    .action(async (name: string, options: PlaybookOptions, command: Command) => {
      const conn = await connectFor(command);
      const created = await createPlaybook(conn, {
        name,
        ...(options.description === undefined ? {} : { description: options.description }),
        ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
        ...(options.become ? { become: true } : {}),
      });
      emit(command, created, () => `Created playbook ${created.name} (${created.id})\n`);
    });

  playbook
    .command("ls")
    .description("list the organization's playbooks, newest first")
    .action(async (_options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const result = await listPlaybooks(conn);
      emit(command, result, () =>
        result.playbooks.length === 0
          ? "No playbooks: create one with `fluid playbook create NAME`\n"
          : table(
              ["ID", "NAME", "TASKS", "HOSTS", "UPDATED"],
              result.playbooks.map((p) => [p.id, p.name, p.task_count, p.hosts, relative(p.updated_at)]),
            ),
      );
    });

  playbook
    .command("show")
    .description("show a playbook and its tasks in order")
    .argument("<playbook>", PLAYBOOK_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const playbookId = await playbookIdFor(conn, ref);
      const result = await getPlaybook(conn, playbookId);
      const p = result.playbook;
      emit(command, result, () => {
        const head = details([
          ["id", p.id],
          ["name", p.name],
          ["description", p.description || null],
          ["hosts", p.hosts],
          ["become", p.become ? "yes" : "no"],
          ["updated", when(p.updated_at)],
        ]);
        if (result.tasks.length === 0)
          return `${head}\nNo tasks: add one with \`fluid playbook task add ${p.name} NAME MODULE\`\n`;
        const tasks = table(
          ["#", "ID", "NAME", "MODULE", "PARAMS"],
          result.tasks.map((task) => [
            task.position + 1,
            task.id,
            task.name,
            task.module,
            clip(JSON.stringify(task.params)),
          ]),
        );
        return `${head}\n${tasks}`;
      });
    });

  playbook
    .command("rm")
    .description("delete a playbook and its tasks (its author, or an admin)")
    .argument("<playbook>", PLAYBOOK_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const playbookId = await playbookIdFor(conn, ref);
      const result = await deletePlaybook(conn, playbookId);
      emit(command, { id: playbookId, ...result }, () => `Deleted playbook ${ref}\n`);
    });

  playbook
    .command("render")
    .description("print the playbook as Ansible YAML (one play), ready for ansible-playbook")
    .argument("<playbook>", PLAYBOOK_ARG)
    .addHelpText(
      "after",
      "\nExample:\n  fluid playbook render fix-nginx > fix-nginx.yml && ansible-playbook --check fix-nginx.yml",
    )
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const playbookId = await playbookIdFor(conn, ref);
      const rendered = await renderPlaybook(conn, playbookId);
      emit(command, rendered, () => rendered.yaml);
    });

  const task = playbook.command("task").description("the tasks of a playbook");

  task
    .command("add")
    .description("add a task to a playbook (appended unless --position says where)")
    .argument("<playbook>", PLAYBOOK_ARG)
    .argument("<name>", "what the task does, e.g. 'install nginx'")
    .argument("<module>", "Ansible module: apt, copy, lineinfile, systemd, … (short or fully-qualified name)")
    .option("--params <json>", "module arguments as a JSON object (default: {})", jsonObject)
    .option(
      "--changed-when <expr>",
      "task's changed_when: true, false or a Jinja condition (command/shell tasks need it, or creates/removes)",
    )
    .option("--position <n>", "1-based place to insert the task at", positiveInteger)
    .addHelpText(
      "after",
      `
Examples:
  fluid playbook task add fix-nginx 'install nginx' apt --params '{"name":"nginx","state":"present"}'
  fluid playbook task add fix-nginx 'reload nginx' command --params '{"cmd":"nginx -s reload"}' --changed-when false`,
    )
    .action(async (ref: string, name: string, module: string, options: TaskAddOptions, command: Command) => {
      const conn = await connectFor(command);
      const playbookId = await playbookIdFor(conn, ref);
      const added = await addTask(conn, playbookId, {
        name,
        // The server checks the name and answers with the modules it allows.
        module: module as AddTask["module"],
        params: options.params ?? {},
        ...(options.changedWhen === undefined ? {} : { changed_when: changedWhen(options.changedWhen) }),
        ...(options.position === undefined ? {} : { position: options.position - 1 }),
      });
      emit(command, added, () => `Added task ${added.position + 1} (${added.id}): ${added.name} [${added.module}]\n`);
    });

  task
    .command("rm")
    .description("remove a task from a playbook; the tasks after it move up")
    .argument("<playbook>", PLAYBOOK_ARG)
    .argument("<task-id>", "task id (see fluid playbook show)")
    .action(async (ref: string, taskId: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const playbookId = await playbookIdFor(conn, ref);
      const result = await removeTask(conn, playbookId, taskId);
      emit(command, { id: taskId, ...result }, () => `Removed task ${taskId}\n`);
    });
}

interface PlaybookOptions {
  description?: string;
  hosts?: string;
  become?: boolean;
}

interface TaskAddOptions {
  params?: Record<string, unknown>;
  changedWhen?: string;
  position?: number;
}

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"name":"nginx","state":"present"}\'');
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError("must be a JSON object (module arguments by name)");
  }
  return parsed as Record<string, unknown>;
}

/** `true`/`false` are Ansible booleans; anything else is a Jinja condition. */
function changedWhen(value: string): boolean | string {
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

/** A playbook id as given, or the id of the playbook with that name (names are unique per org). */
export async function playbookIdFor(conn: Connection, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const { playbooks } = await listPlaybooks(conn);
  const found = playbooks.find((p) => p.name === ref);
  if (!found) {
    throw new CliError(`no playbook is named "${ref}" (see fluid playbook ls)`, {
      code: "not_found",
    });
  }
  return found.id;
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
