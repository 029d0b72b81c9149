import { FluidError } from "@fluid/sdk";
import { Command, CommanderError } from "commander";
import { registerAgentCommand } from "./agent/command.js";
import { registerCommands } from "./commands/index.js";
import { registerMcpCommand } from "./mcp/command.js";
import { CliError, EXIT, exitCodeOf } from "./output.js";

/** `fluid`: the command line for people and scripts; `fluid mcp` for coding agents; `fluid agent` in a terminal. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("fluid")
    .description("fluid: AI agents debug and change infrastructure safely, in microVM clones")
    .option("--server <url>", "control plane URL (or FLUID_SERVER, or the saved login)")
    .option("--api-key <key>", "API key (or FLUID_API_KEY, or the saved login)")
    .option("--org <slug>", "organization (default: the API key's own)")
    .option("--json", "machine-readable JSON output")
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .exitOverride();
  registerCommands(program);
  registerMcpCommand(program);
  registerAgentCommand(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    const json = program.opts().json === true;
    if (err instanceof CommanderError) {
      // Commander has already printed the problem (or the help) to stderr.
      if (json && err.exitCode !== 0) printError("usage", usageMessage(err));
      process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
    }
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof FluidError || err instanceof CliError ? err.code : "error";
    if (json) printError(code, message);
    else process.stderr.write(`fluid: ${message}\n`);
    process.exit(exitCodeFor(err));
  }
}

function printError(code: string, message: string): void {
  process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

function usageMessage(err: CommanderError): string {
  if (err.code === "commander.help") return "a subcommand is required (see --help)";
  return err.message.replace(/^error: /, "");
}

function exitCodeFor(err: unknown): number {
  return err instanceof FluidError || err instanceof CliError ? exitCodeOf(err.code) : EXIT.failure;
}
