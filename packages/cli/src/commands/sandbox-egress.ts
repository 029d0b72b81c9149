import type { Command } from "commander";
import { getSandbox, setEgress } from "../api/sandboxes.js";
import { EXIT } from "../output.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { collect, connectFor, emit } from "./shared.js";

interface EgressOptions {
  allow?: string[];
  allowAll?: boolean;
  denyAll?: boolean;
}

/** `fluid sandbox egress`: show or replace what a sandbox may reach outside its network. */
export function registerSandboxEgressCommand(sandbox: Command): void {
  sandbox
    .command("egress")
    .description("show or replace what a sandbox may reach outside its network (changing it: org admins)")
    .argument("<sandbox>", SANDBOX_ARG)
    .option("--allow <entry>", "allow CIDR or DNS name, optionally :PORT[,PORT…] (repeatable)", collect)
    .option("--allow-all", "allow anywhere")
    .option("--deny-all", "allow nothing (the default for new sandboxes)")
    .addHelpText(
      "after",
      `
Without an option, prints the sandbox's egress. --allow replaces the whole list. A name entry
(deb.debian.org, *.example.com) opens the addresses the host's egress resolver answers for it;
the sandbox must look names up through that resolver (its default). Ports apply to TCP and UDP.

Example:
  fluid sandbox egress web --allow deb.debian.org:80,443 --allow 10.20.0.0/16:5432`,
    )
    .action(async (ref: string, options: EgressOptions, command: Command) => {
      const chosen = [options.allow !== undefined, options.allowAll === true, options.denyAll === true];
      if (chosen.filter(Boolean).length > 1)
        command.error("fluid: give one of --allow, --allow-all and --deny-all", { exitCode: EXIT.usage });
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const result = chosen.some(Boolean)
        ? await setEgress(conn, id, { allow_all: options.allowAll === true, allow: options.allow ?? [] })
        : await getSandbox(conn, id);
      const egress = {
        sandbox_id: result.id,
        allow_all: result.allow_egress,
        allow: result.egress_allow ?? [],
      };
      emit(command, egress, () => {
        if (egress.allow_all) return `${result.name} may reach anywhere\n`;
        if (egress.allow.length === 0) return `${result.name} may reach nothing outside its network\n`;
        return `${result.name} may reach:\n${egress.allow.map((entry) => `  ${entry}\n`).join("")}`;
      });
    });
}
