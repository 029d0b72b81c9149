import { unwrap } from "@fluid/sdk";
import type { Command } from "commander";
import { details, when } from "../output.js";
import { connectFor, emit } from "./shared.js";

/** `org`: the organization the CLI acts in. */
export function registerOrgCommands(program: Command): void {
  program
    .command("org")
    .description("show the current organization: name, your role, member count, policies")
    .action(async (_options: unknown, command: Command) => {
      const { client, org: slug } = await connectFor(command);
      const path = { slug };
      const org = await unwrap(client.GET("/v1/orgs/{slug}", { params: { path } }));
      const members = await unwrap(client.GET("/v1/orgs/{slug}/members", { params: { path } }));
      emit(command, { ...org, members_count: members.total }, () =>
        details([
          ["name", org.name],
          ["slug", org.slug],
          ["id", org.id],
          ["your role", org.role],
          ["members", members.total],
          ["self-approval", org.allow_self_approval ? "allowed" : "not allowed (two-person rule)"],
          ["created", when(org.created_at)],
        ]),
      );
    });
}
