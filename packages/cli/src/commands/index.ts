import type { Command } from "commander";
import { registerAuditCommands } from "./audit.js";
import { registerAuthCommands } from "./auth.js";
import { registerChangeCommands } from "./changes.js";
import { registerHostCommands } from "./hosts.js";
import { registerOrgCommands } from "./org.js";
import { registerPlaybookCommands } from "./playbooks.js";
import { registerSandboxCommands } from "./sandboxes.js";
import { registerSourceCommands } from "./sources.js";
import { registerTokenCommands } from "./tokens.js";
import { registerUsageCommands } from "./usage.js";

/** Every resource command, in the order `fluid --help` lists them. */
export function registerCommands(program: Command): void {
  registerAuthCommands(program);
  registerOrgCommands(program);
  registerHostCommands(program);
  registerTokenCommands(program);
  registerSandboxCommands(program);
  registerSourceCommands(program);
  registerPlaybookCommands(program);
  registerChangeCommands(program);
  registerAuditCommands(program);
  registerUsageCommands(program);
  program.addHelpText(
    "after",
    `
Getting started:
  fluid login --server http://127.0.0.1:8080 --api-key fl_…
  fluid sandbox create tiny
  fluid sandbox exec SANDBOX -- uname -a

Exit status: 0 ok, 1 failed, 2 usage error or request rejected as invalid, 3 not logged in or
not allowed, 4 not found; \`fluid sandbox exec\` exits with the command's own status.
Every command takes --json: one JSON document on stdout, errors as {"error":{"code","message"}}.`,
  );
}
