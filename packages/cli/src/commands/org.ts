import { type Command, InvalidArgumentError } from "commander";
import { acceptInvitation, getOrg, invite, listInvitations, orgMembers, revokeInvitation } from "../api/account.js";
import { details, relative, table, when } from "../output.js";
import { connectFor, duration, emit } from "./shared.js";

const invitableRoles = ["admin", "member", "viewer"] as const;
type InvitableRole = (typeof invitableRoles)[number];

function invitableRole(value: string): InvitableRole {
  if (!(invitableRoles as readonly string[]).includes(value))
    throw new InvalidArgumentError(`must be one of ${invitableRoles.join(", ")}`);
  return value as InvitableRole;
}

/** `org`: the organization the CLI acts in, and the invitations people join it by. */
export function registerOrgCommands(program: Command): void {
  const org = program
    .command("org")
    .description("show the current organization: name, your role, member count, policies")
    .action(async (_options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const org = await getOrg(conn);
      const members = await orgMembers(conn);
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

  org
    .command("invite")
    .description("invite someone by email (admin; only the owner invites admins); the token is printed only once")
    .argument("<email>", "the email of the account that may accept")
    .option("--role <role>", `the role they get: ${invitableRoles.join(", ")}`, invitableRole, "member")
    .option("--ttl <duration>", "how long the invitation stays valid: 30m, 2h, 7d (default 7d)", duration)
    .action(async (email: string, options: { role: InvitableRole; ttl?: number }, command: Command) => {
      const conn = await connectFor(command);
      const created = await invite(conn, {
        email,
        role: options.role,
        ...(options.ttl ? { ttl_seconds: options.ttl } : {}),
      });
      emit(
        command,
        created,
        () =>
          `Invited ${created.email} to ${conn.org} as ${created.role} (id ${created.id}, expires ${when(created.expires_at)}).\n` +
          "Send them the token, shown only this once; they join with:\n\n" +
          `  fluid org join ${created.token}\n` +
          (created.accept_url ? `\nor in the dashboard: ${created.accept_url}\n` : ""),
      );
    });

  org
    .command("invitations")
    .description("list pending invitations (admin)")
    .action(async (_options: unknown, command: Command) => {
      const result = await listInvitations(await connectFor(command));
      emit(command, result, () =>
        result.invitations.length === 0
          ? "No pending invitations: invite someone with `fluid org invite EMAIL --role ROLE`\n"
          : table(
              ["ID", "EMAIL", "ROLE", "CREATED", "EXPIRES"],
              result.invitations.map((i) => [i.id, i.email, i.role, relative(i.created_at), relative(i.expires_at)]),
            ),
      );
    });

  org
    .command("invitation")
    .description("manage one invitation")
    .command("revoke")
    .description("revoke a pending invitation (admin; only the owner revokes admin invitations)")
    .argument("<id>", "invitation id (see fluid org invitations)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const result = await revokeInvitation(await connectFor(command), id);
      emit(command, { id, ...result }, () => `Revoked invitation ${id}\n`);
    });

  org
    .command("join")
    .description("accept an invitation sent to your account's email and join its organization")
    .argument("<token>", "the invitation token (flinv_…)")
    .action(async (token: string, _options: unknown, command: Command) => {
      const joined = await acceptInvitation(await connectFor(command), token);
      emit(
        command,
        joined,
        () =>
          `Joined ${joined.org.name} (${joined.org.slug}) as ${joined.membership.role}.\n` +
          "An API key acts only in the org it was made in: create one there to use it from the CLI.\n",
      );
    });
}
