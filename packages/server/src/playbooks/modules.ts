import type { ChangedWhen } from "../db/schema.js";
import { isStorableText } from "../http/schemas.js";

/**
 * The Ansible modules a playbook task may use: what the diff → playbook generator emits (SPEC §7)
 * plus the few an agent reasonably adds by hand. Either the short name or the fully-qualified one
 * is accepted; tasks are stored and rendered fully qualified.
 *
 * `sysctl` is not part of ansible-core: it lives in the `ansible.posix` collection (Debian package
 * `ansible`), so a host that applies such a playbook needs that collection.
 */
export const moduleNames = {
  apt: "ansible.builtin.apt",
  package: "ansible.builtin.package",
  copy: "ansible.builtin.copy",
  template: "ansible.builtin.template",
  lineinfile: "ansible.builtin.lineinfile",
  blockinfile: "ansible.builtin.blockinfile",
  file: "ansible.builtin.file",
  systemd: "ansible.builtin.systemd",
  service: "ansible.builtin.service",
  user: "ansible.builtin.user",
  group: "ansible.builtin.group",
  cron: "ansible.builtin.cron",
  sysctl: "ansible.posix.sysctl",
  command: "ansible.builtin.command",
  shell: "ansible.builtin.shell",
  get_url: "ansible.builtin.get_url",
  unarchive: "ansible.builtin.unarchive",
  git: "ansible.builtin.git",
  pip: "ansible.builtin.pip",
  replace: "ansible.builtin.replace",
  stat: "ansible.builtin.stat",
  debug: "ansible.builtin.debug",
} as const;

export type ModuleName = (typeof moduleNames)[keyof typeof moduleNames];

const byName = new Map<string, ModuleName>(
  Object.entries(moduleNames).flatMap(([short, fqcn]) => [
    [short, fqcn],
    [fqcn, fqcn],
  ]),
);

/** Every accepted spelling, short names first (for the OpenAPI enum and error messages). */
export const acceptedModuleNames: readonly string[] = [...Object.keys(moduleNames), ...Object.values(moduleNames)];

/** The fully-qualified name for an accepted module name, or undefined for anything else. */
export function resolveModule(name: string): ModuleName | undefined {
  return byName.get(name);
}

/** Tasks that run raw commands: never idempotent unless told how to tell (SPEC §7). */
const rawCommandModules = new Set<ModuleName>(["ansible.builtin.command", "ansible.builtin.shell"]);

export const playbookLimits = {
  maxTasks: 200,
  /** Serialized JSON size of one task's params. Large enough for a copy `content:` of a config file. */
  maxParamsBytes: 128 * 1024,
  maxParamsDepth: 16,
  maxChangedWhenLength: 1024,
} as const;

/** Top-level module arguments are identifiers (`dest`, `state`, `update_cache`, …). */
const paramName = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export interface TaskInput {
  module: ModuleName;
  params: Record<string, unknown>;
  changedWhen: ChangedWhen | null;
}

/**
 * Checks a task as it will be stored; returns a message safe to show the caller, or undefined when
 * the task is acceptable. Shape (object, known module) is the schema's job; this checks content.
 */
export function taskProblem(task: TaskInput): string | undefined {
  for (const key of Object.keys(task.params)) {
    if (!paramName.test(key)) return `params.${key.slice(0, 64)}: module argument names must be identifiers`;
  }
  const valueProblem = checkValue(task.params, "params", 0);
  if (valueProblem) return valueProblem;
  if (Buffer.byteLength(JSON.stringify(task.params), "utf8") > playbookLimits.maxParamsBytes)
    return `params must be at most ${playbookLimits.maxParamsBytes} bytes of JSON`;
  if (typeof task.changedWhen === "string" && !isStorableText(task.changedWhen))
    return "changed_when contains characters that cannot be stored";

  if (rawCommandModules.has(task.module)) {
    const short = task.module.slice("ansible.builtin.".length);
    if ("changed_when" in task.params)
      return `changed_when is a task keyword, not a ${short} argument: send it as the task's changed_when field`;
    const cmd = task.params.cmd;
    const argv = task.params.argv;
    const hasCmd = typeof cmd === "string" && cmd.trim() !== "";
    const hasArgv =
      short === "command" &&
      Array.isArray(argv) &&
      argv.length > 0 &&
      argv.every((a) => typeof a === "string" && a !== "");
    if (!hasCmd && !hasArgv)
      return short === "command"
        ? "command tasks need params.cmd (a non-empty string) or params.argv (a non-empty list of strings)"
        : "shell tasks need params.cmd (a non-empty string)";
    const guarded = ["creates", "removes"].some((k) => typeof task.params[k] === "string" && task.params[k] !== "");
    if (!guarded && task.changedWhen === null)
      return (
        `a ${short} task must say when it changes something: give params.creates or params.removes (a path), ` +
        "or the task's changed_when; prefer a purpose-built module (apt, copy, lineinfile, systemd, …) where one exists"
      );
  }
  return undefined;
}

function checkValue(value: unknown, path: string, depth: number): string | undefined {
  if (depth > playbookLimits.maxParamsDepth)
    return `${path}: nested deeper than ${playbookLimits.maxParamsDepth} levels`;
  if (typeof value === "string") {
    return isStorableText(value)
      ? undefined
      : `${path}: contains characters that cannot be stored (NUL or a lone surrogate)`;
  }
  if (typeof value === "number") {
    // JSON numbers outside this range print with an exponent, which YAML 1.1 (Ansible) reads as a string.
    const magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude < 1e-6 || magnitude >= 1e21))
      return `${path}: numbers must lie between 1e-6 and 1e21 in magnitude; send others as strings`;
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const problem = checkValue(item, `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) return `${path}: a key contains characters that cannot be stored`;
      const problem = checkValue(item, `${path}.${key.slice(0, 64)}`, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}
