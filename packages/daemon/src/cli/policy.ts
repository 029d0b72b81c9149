import type { Command } from "commander";
import { checkCommand } from "../policy/check.js";
import { readonlyShellScript } from "../policy/shell.js";

export interface PolicyCliOutput {
  stdout: { write(text: string): unknown };
  setExitCode(code: number): void;
}

const processOutput: PolicyCliOutput = {
  stdout: process.stdout,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** Exit status of `policy check` for a refused command. */
export const REFUSED_EXIT_CODE = 3;

/**
 * `policy check -- '<command>'`: the read-only command policy for source VMs, as the daemon enforces it
 * (layer 1). Prints `allowed` (exit 0) or `refused: <reason>` (exit 3). `policy shell` prints the
 * generated `fluid-readonly-shell` (layer 2) with the same policy embedded.
 */
export function registerPolicyCommands(program: Command, output: PolicyCliOutput = processOutput): void {
  const policy = program.command("policy").description("the read-only command policy for source VMs");

  policy
    .command("check")
    .description("check a command line: prints `allowed` (exit 0) or `refused: <reason>` (exit 3)")
    .argument("<command>", "the whole command line as one argument, after --")
    .action((command: string) => {
      const decision = checkCommand(command);
      if (decision.allowed) {
        output.stdout.write("allowed\n");
      } else {
        output.stdout.write(`refused: ${decision.reason}\n`);
        output.setExitCode(REFUSED_EXIT_CODE);
      }
    });

  policy
    .command("shell")
    .description("print the fluid-readonly-shell script (Perl) that enforces the same policy on a source VM")
    .action(() => {
      output.stdout.write(readonlyShellScript());
    });
}
