import type { Change } from "../diff-types.js";
import { APPLY_SYSCTL, isSysctlFile, restartHandlers } from "./handlers.js";
import { shippedByAddedPackages } from "./package-files.js";
import { type Data, type Plan, shownPath, type Task } from "./plan.js";
import type { Accounts, SandboxRoot } from "./sandbox-root.js";

/** Larger files are not put in a playbook: the diff compares them by size and hash only, too. */
export const MAX_CONTENT_BYTES = 1024 * 1024;

interface FileChange extends Change {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode?: string;
  uid?: number;
  gid?: number;
  target?: string;
  binary?: boolean;
  redacted?: boolean;
  from?: Record<string, unknown>;
}

/**
 * The account databases: the group and user tasks reproduce them, entry by entry and with
 * passwords left out, where a copy would overwrite every account at once.
 */
const ACCOUNT_FILES = new Set([
  "/etc/passwd",
  "/etc/group",
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/subuid",
  "/etc/subgid",
]);

/** Crontabs go with the cron tasks, last, so no job of theirs runs before the rest is in place. */
function isCrontab(path: string): boolean {
  return path === "/etc/crontab" || /^\/(?:etc\/cron\.d|var\/spool\/cron\/crontabs)\/[^/]+$/.test(path);
}

/**
 * The links `systemctl enable` and `mask` make: the unit tasks reproduce them (and reload systemd),
 * so copying them as plain links would say the same thing twice.
 */
function unitLink(change: FileChange, units: ReadonlySet<string>): boolean {
  const match = /^\/etc\/systemd\/system\/(?:[^/]+\.(?:wants|requires)\/)?([^/]+)$/.exec(change.path);
  return change.type === "symlink" && match !== null && units.has(match[1] as string);
}

function ownership(change: FileChange, accounts: Accounts, only?: Record<string, unknown>): Record<string, Data> {
  const args: Record<string, Data> = {};
  const wanted = (field: string) => only === undefined || field in only;
  if (wanted("uid") && change.uid !== undefined) args.owner = accounts.userName(change.uid) ?? String(change.uid);
  if (wanted("gid") && change.gid !== undefined) args.group = accounts.groupName(change.gid) ?? String(change.gid);
  if (wanted("mode") && change.mode !== undefined) args.mode = change.mode;
  return args;
}

/**
 * Tasks for file changes: directories, copies with the whole content, links, removals, attribute
 * changes. What a playbook cannot carry (binaries, redacted secrets, files over MAX_CONTENT_BYTES,
 * special files, a directory turning into a file or back) becomes a note instead.
 */
export async function planFiles(changes: readonly Change[], root: SandboxRoot, plan: Plan): Promise<void> {
  const files = changes.filter((c): c is FileChange => c.kind === "file");
  const units = new Set(changes.filter((c) => c.kind === "unit").map((c) => c.name as string));
  const accounts = await root.accounts();
  const configs = files.filter((c) => c.action !== "removed" && c.type === "file" && c.path.startsWith("/etc/"));
  const restarts = await restartHandlers(
    configs.map((c) => c.path),
    root,
  );
  const shipped = await shippedByAddedPackages(changes, root);
  for (const change of files) {
    if (unitLink(change, units) || ACCOUNT_FILES.has(change.path) || shipped.has(change.path)) continue;
    const path = change.path;
    const shown = shownPath(path);
    if (change.action === "removed") {
      const task: Task = { name: `Remove ${shown}`, module: "ansible.builtin.file", args: { path, state: "absent" } };
      if (isSysctlFile(path)) task.notify = [plan.handler(APPLY_SYSCTL)];
      plan.add("removals", task);
      continue;
    }
    const previousType = change.from?.type as string | undefined;
    if (previousType !== undefined && (previousType === "dir" || change.type === "dir")) {
      plan.note(`${shown}: a ${previousType} became a ${change.type}; replace it by hand`);
      continue;
    }
    const attributesOnly = change.action === "changed" && !("sha256" in (change.from ?? {})) && !previousType;
    if (change.type === "dir") {
      plan.add("directories", {
        name: `${change.action === "added" ? "Create" : "Set the attributes of"} directory ${shown}`,
        module: "ansible.builtin.file",
        args: { path, state: "directory", ...ownership(change, accounts, attributesOnly ? change.from : undefined) },
      });
    } else if (change.type === "symlink") {
      if (change.action === "changed" && !("target" in (change.from ?? {})) && !previousType) {
        plan.note(`${shown}: the owner of a symlink changed; symlinks are not chowned by this playbook`);
        continue;
      }
      plan.add("links", {
        name: `Link ${shown} to ${shownPath(change.target ?? "")}`,
        module: "ansible.builtin.file",
        // force: the target may not exist yet, or the path may hold a file the link replaces.
        args: { path, src: change.target ?? "", state: "link", force: true },
      });
    } else if (change.type === "other") {
      plan.note(`${shown}: a special file (device, socket or FIFO); create it by hand`);
    } else if (attributesOnly) {
      plan.add(isCrontab(path) ? "cron" : "files", {
        name: `Set the attributes of ${shown}`,
        module: "ansible.builtin.file",
        args: { path, state: "file", ...ownership(change, accounts, change.from) },
      });
    } else {
      const content = change.redacted || change.binary ? undefined : await root.text(path, MAX_CONTENT_BYTES);
      if (content === undefined) {
        const why = change.redacted
          ? "its content is redacted by the noise policy"
          : `binary or larger than ${MAX_CONTENT_BYTES} bytes`;
        plan.note(`${shown}: ${why} (sha256 ${change.sha256 ?? "unknown"}); copy it by hand`);
        continue;
      }
      const task: Task = {
        name: `Write ${shown}`,
        module: "ansible.builtin.copy",
        args: { dest: path, content, ...ownership(change, accounts) },
      };
      const notify = (restarts.get(path) ?? []).map((handler) => plan.handler(handler));
      if (isSysctlFile(path)) notify.push(plan.handler(APPLY_SYSCTL));
      if (notify.length > 0) task.notify = notify.sort();
      plan.add(isCrontab(path) ? "cron" : "files", task);
    }
  }
}
