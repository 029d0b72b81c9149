import { FILE_TREES } from "../collect-files.js";
import type { Change } from "../diff-types.js";
import type { Data, Plan } from "./plan.js";
import type { Accounts, SandboxRoot } from "./sandbox-root.js";

interface GroupChange extends Change {
  name: string;
  gid: number;
  members: string[];
  from?: { gid?: number; members?: string[] };
}

interface UserChange extends Change {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  password_set?: boolean;
  password_changed?: boolean;
  from?: { uid?: number; gid?: number; gecos?: string; home?: string; shell?: string };
}

/** Users whose supplementary groups changed: members of added groups, and those joining or leaving one. */
function regrouped(groups: readonly GroupChange[]): Set<string> {
  const users = new Set<string>();
  for (const group of groups) {
    if (group.action === "added") for (const member of group.members) users.add(member);
    if (group.action !== "changed" || !group.from?.members) continue;
    const before = new Set(group.from.members);
    const after = new Set(group.members);
    for (const member of [...before, ...after]) if (before.has(member) !== after.has(member)) users.add(member);
  }
  return users;
}

/**
 * A home under the file trees the diff reads is reproduced by the file tasks (directory, skeleton
 * files and all, with their exact modes), so the user module must not create it from /etc/skel.
 * Elsewhere the diff cannot see it: the user module creates it if the sandbox has it.
 */
async function createsHome(home: string, root: SandboxRoot): Promise<boolean> {
  if (FILE_TREES.some((tree) => home === tree || home.startsWith(`${tree}/`))) return false;
  return root.exists(home);
}

function userArgs(user: UserChange, accounts: Accounts, fields: Set<string>): Record<string, Data> {
  const args: Record<string, Data> = { name: user.name };
  if (fields.has("uid")) args.uid = user.uid;
  if (fields.has("gid")) args.group = accounts.groupName(user.gid) ?? String(user.gid);
  if (fields.has("gecos")) args.comment = user.gecos;
  if (fields.has("home")) args.home = user.home;
  if (fields.has("shell")) args.shell = user.shell;
  return args;
}

/**
 * Tasks for groups and users, with their ids as in the sandbox so file ownership matches. Group
 * membership is set per user, as the whole list of supplementary groups (append: false), since the
 * group module cannot set members. Password hashes never leave the diff: a password is a note.
 */
export async function planAccounts(changes: readonly Change[], root: SandboxRoot, plan: Plan): Promise<void> {
  const groups = changes.filter((c): c is GroupChange => c.kind === "group");
  const users = changes.filter((c): c is UserChange => c.kind === "user");
  const accounts = await root.accounts();
  for (const group of groups) {
    if (group.action === "removed") {
      plan.add("removed groups", {
        name: `Remove group ${group.name}`,
        module: "ansible.builtin.group",
        args: { name: group.name, state: "absent" },
      });
    } else if (group.action === "added" || group.from?.gid !== undefined) {
      plan.add("groups", {
        name: `${group.action === "added" ? "Create" : "Change"} group ${group.name}`,
        module: "ansible.builtin.group",
        args: { name: group.name, gid: group.gid, state: "present" },
      });
    }
  }
  const membership = regrouped(groups);
  const byName = new Map(users.map((user) => [user.name, user]));
  for (const name of [...new Set([...byName.keys(), ...membership])].sort()) {
    const user = byName.get(name);
    if (user?.action === "removed") {
      plan.add("users", {
        name: `Remove user ${name}`,
        module: "ansible.builtin.user",
        args: { name, state: "absent" },
      });
      continue;
    }
    if ((user?.password_set && accounts.hasPassword(name)) || user?.password_changed) {
      plan.note(`user ${name}: the password was set in the sandbox; set it by hand (hashes never leave the diff)`);
    }
    const added = user?.action === "added";
    const fields = new Set(added ? ["uid", "gid", "gecos", "home", "shell"] : Object.keys(user?.from ?? {}));
    const args: Record<string, Data> = user ? userArgs(user, accounts, fields) : { name };
    if (membership.has(name)) {
      args.groups = accounts.groupsOf(name);
      args.append = false;
    }
    if (Object.keys(args).length === 1) continue;
    if (added && user) args.create_home = await createsHome(user.home, root);
    plan.add("users", { name: `${added ? "Create" : "Change"} user ${name}`, module: "ansible.builtin.user", args });
  }
}
