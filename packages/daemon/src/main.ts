import { Command } from "commander";
import { registerImageCommands } from "./cli/images.js";
import { registerPolicyCommands } from "./cli/policy.js";
import { registerRunCommand } from "./cli/run.js";

/** `fluid-daemon`: the sandbox host's command line. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("fluid-daemon")
    .description("fluid sandbox host: guest images and QEMU microVM sandboxes")
    .showHelpAfterError();
  registerImageCommands(program);
  registerRunCommand(program);
  registerPolicyCommands(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    process.stderr.write(`fluid-daemon: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
