/** The read-only command policy for source VMs, enforced by the daemon (layer 1) and on the VM (layer 2). */
export { type CommandDecision, checkArgv, checkCommand } from "./check.js";
export { type Connector, type ParseResult, type Pipeline, parseCommand } from "./parse.js";
export { checkReadablePath, isReadablePath, type PathDecision } from "./paths.js";
export { type ProgramRule, programs } from "./rules.js";
export { policyData, READONLY_SHELL_PATH, readonlyShellScript } from "./shell.js";
