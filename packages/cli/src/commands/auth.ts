import type { Organization } from "@fluid/sdk";
import type { Command } from "commander";
import { currentUser, getOrg, visibleOrgs } from "../api/account.js";
import { isServerUrl, readSettings, removeSettings, settingsPath, writeSettings } from "../config/settings.js";
import { clientFor } from "../connection.js";
import { CliError, details } from "../output.js";
import { connectFor, emit, globals } from "./shared.js";

/** `login`, `logout`, `whoami`: where the CLI connects and as whom. */
export function registerAuthCommands(program: Command): void {
  program
    .command("login")
    .description("check an API key against a server, then save both for the commands that follow")
    .addHelpText(
      "after",
      `
Uses the global --server, --api-key and --org (or FLUID_SERVER, FLUID_API_KEY, FLUID_ORG; the
environment keeps the key out of your shell history). The key is verified with the server before
anything is saved; the login is written to ${settingsPath()} with mode 0600 (FLUID_CONFIG moves it).

Example:
  fluid login --server http://127.0.0.1:8080 --api-key fl_…`,
    )
    .action(async (_options: unknown, command: Command) => {
      const flags = globals(command);
      const server = (flags.server ?? process.env.FLUID_SERVER)?.replace(/\/+$/, "");
      const apiKey = flags.apiKey ?? process.env.FLUID_API_KEY;
      const wantedOrg = flags.org ?? process.env.FLUID_ORG;
      if (!server) throw new CliError("--server is required, e.g. --server http://127.0.0.1:8080");
      if (!isServerUrl(server)) throw new CliError(`--server must be an http(s) URL, got "${server}"`);
      if (!apiKey) throw new CliError("--api-key is required (or FLUID_API_KEY); an organization admin creates keys");
      if (!apiKey.startsWith("fl_")) {
        throw new CliError("an API key starts with fl_ (flh_… host tokens are for fluid-daemon, not the CLI)");
      }

      const client = clientFor(server, apiKey);
      const user = await currentUser(client);
      const organizations = await visibleOrgs(client);
      const org = pickOrg(organizations, wantedOrg);
      const path = settingsPath();
      // A new login keeps `fluid agent`'s provider settings; a config too broken to read is what login replaces.
      const agent = (await readSettings(path).catch(() => undefined))?.agent;
      await writeSettings({ server, apiKey, org: org.slug, agent }, path);
      emit(
        command,
        { server, user, org, config_path: path },
        () =>
          `Logged in to ${server} as ${user.email} (organization ${org.slug}, role ${org.role}).\nSaved to ${path}\n`,
      );
    });

  program
    .command("logout")
    .description("forget the saved login (the API key itself stays valid until an admin revokes it)")
    .action(async (_options: unknown, command: Command) => {
      const path = settingsPath();
      const removed = await removeSettings(path);
      emit(command, { logged_out: removed, config_path: path }, () =>
        removed ? `Removed the saved login ${path}\n` : `Not logged in (no ${path})\n`,
      );
    });

  program
    .command("whoami")
    .description("show the server, user, organization and role these credentials act as")
    .action(async (_options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const { server } = conn;
      const user = await currentUser(conn.client);
      const org = await getOrg(conn);
      emit(command, { server, user, org }, () =>
        details([
          ["server", server],
          ["user", `${user.display_name} <${user.email}>`],
          ["organization", `${org.name} (${org.slug})`],
          ["role", org.role],
        ]),
      );
    });
}

/** The org to save: the one asked for, else the key's only one. */
function pickOrg(organizations: Organization[], wanted: string | undefined): Organization {
  const slugs = organizations.map((o) => o.slug).join(", ") || "none";
  if (wanted) {
    const found = organizations.find((o) => o.slug === wanted);
    if (!found) {
      throw new CliError(`organization "${wanted}" is not one this API key can use (it can use: ${slugs})`, {
        code: "not_found",
      });
    }
    return found;
  }
  const [only, ...others] = organizations;
  if (!only) throw new CliError("this API key belongs to no organization", { code: "forbidden" });
  if (others.length > 0) throw new CliError(`this API key sees several organizations (${slugs}); pass --org`);
  return only;
}
