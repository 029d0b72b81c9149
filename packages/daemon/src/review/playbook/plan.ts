/** A value a task can hold, as YAML will carry it. */
export type Data = null | boolean | number | string | Data[] | { [key: string]: Data };

export interface Task {
  name: string;
  /** The module's fully qualified name. */
  module: string;
  args: Record<string, Data>;
  /** Handler names, when the task's change needs one. */
  notify?: string[];
  /** Only for command tasks: whether running it counts as a change. */
  changed_when?: boolean;
}

/**
 * Where a task goes: the order in which the changes can be applied. Accounts first (files name
 * their owners), group removals after users (a group cannot go while it is a user's primary group),
 * packages before the files that configure them, links after what they point to, units once their
 * files are in place, cron last so no job runs against a half-applied system.
 */
export const SECTIONS = [
  "groups",
  "users",
  "removed groups",
  "removed packages",
  "packages",
  "directories",
  "files",
  "links",
  "removals",
  "units",
  "cron",
] as const;
export type Section = (typeof SECTIONS)[number];

/** The playbook being built: tasks by section, handlers by name, and what it cannot reproduce. */
export class Plan {
  private readonly sections = new Map<Section, Task[]>(SECTIONS.map((section) => [section, []]));
  private readonly handlerTasks = new Map<string, Task>();
  readonly notes: string[] = [];

  add(section: Section, task: Task): void {
    this.sections.get(section)?.push(task);
  }

  handler(task: Task): string {
    this.handlerTasks.set(task.name, task);
    return task.name;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  tasks(): Task[] {
    return SECTIONS.flatMap((section) => this.sections.get(section) ?? []);
  }

  handlers(): Task[] {
    return [...this.handlerTasks.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** A guest path as a note or task name shows it: as is, or JSON-quoted if it holds control characters. */
export function shownPath(path: string): string {
  return /\p{Cc}/u.test(path) ? JSON.stringify(path) : path;
}
