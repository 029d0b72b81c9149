import type { Change } from "../diff-types.js";
import { planAccounts } from "./account-tasks.js";
import { planFiles } from "./file-tasks.js";
import { Plan } from "./plan.js";
import { renderPlaybook } from "./render.js";
import type { SandboxRoot } from "./sandbox-root.js";
import { planPackages, planUnits } from "./system-tasks.js";

export interface GeneratedPlaybook {
  yaml: string;
  /** What the playbook cannot reproduce, one line each (also comments at the top of the YAML). */
  notes: string[];
}

/**
 * An Ansible playbook that makes a fresh clone of the sandbox's base what the diff says the sandbox
 * became, reading what the diff does not carry (whole files, owner names, dpkg's file lists) from
 * the sandbox's mounted root. Cron and sysctl changes are the files that hold them, and come with
 * the file changes; listening ports follow from the packages, files and units.
 */
export async function generatePlaybook(changes: readonly Change[], root: SandboxRoot): Promise<GeneratedPlaybook> {
  const plan = new Plan();
  await planAccounts(changes, root, plan);
  await planPackages(changes, root, plan);
  await planFiles(changes, root, plan);
  planUnits(changes, plan);
  return { yaml: renderPlaybook(plan.tasks(), plan.handlers(), plan.notes), notes: plan.notes };
}
