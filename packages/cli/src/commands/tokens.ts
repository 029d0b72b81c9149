import type { Command } from "commander";
import { createHostToken, listHostTokens, revokeHostToken } from "../api/hosts.js";
import { relative, table } from "../output.js";
import { connectFor, emit, positiveInteger } from "./shared.js";

/** `token create|ls|rm`: host tokens, the credentials sandbox hosts (fluid-daemon) connect with. */
export function registerTokenCommands(program: Command): void {
  const token = program
    .command("token")
    .description("host tokens: what a sandbox host (fluid-daemon) connects to the control plane with");

  token
    .command("create")
    .description("create a host token (admin); its secret is printed only this once")
    .argument("<name>", "a label for the host, e.g. its hostname")
    .option("--expires-in-days <n>", "let the token expire after N days (default: never)", positiveInteger)
    .action(async (name: string, options: { expiresInDays?: number }, command: Command) => {
      const conn = await connectFor(command);
      const { server } = conn;
      const created = await createHostToken(conn, {
        name,
        ...(options.expiresInDays ? { expires_in_days: options.expiresInDays } : {}),
      });
      const url = new URL(server);
      const insecure = url.protocol === "http:" ? " --insecure" : "";
      emit(
        command,
        created,
        () =>
          `Created host token "${created.name}" (id ${created.id}). Its secret is shown only this once:\n\n` +
          `  ${created.token}\n\n` +
          "Start a sandbox host with it (as root on that machine; the address is the control plane's\n" +
          "--grpc-listen, port 9090 by default):\n\n" +
          `  fluid-daemon run --server ${url.hostname}:9090 --token ${created.token}${insecure}\n`,
      );
    });

  token
    .command("ls")
    .description("list the active host tokens (the host's id is its token's id)")
    .action(async (_options: unknown, command: Command) => {
      const result = await listHostTokens(await connectFor(command));
      emit(command, result, () =>
        result.tokens.length === 0
          ? "No host tokens: create one with `fluid token create NAME`\n"
          : table(
              ["ID", "NAME", "CREATED", "EXPIRES", "LAST USED"],
              result.tokens.map((t) => [
                t.id,
                t.name,
                relative(t.created_at),
                relative(t.expires_at) ?? "never",
                relative(t.last_used_at) ?? "never",
              ]),
            ),
      );
    });

  token
    .command("rm")
    .description("revoke a host token (admin); a host connected with it is disconnected at once")
    .argument("<id>", "token id (see fluid token ls)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const result = await revokeHostToken(await connectFor(command), id);
      emit(command, { id, ...result }, () => `Revoked host token ${id}\n`);
    });
}
