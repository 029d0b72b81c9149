import { create } from "@bufbuild/protobuf";
import {
  ApplyPlaybookCommandSchema,
  ListSourceVMsCommandSchema,
  PrepareSourceVMCommandSchema,
  ReadSourceFileCommandSchema,
  RunSourceCommandCommandSchema,
  type SourceHostConnection,
  SourceHostConnectionSchema,
} from "@fluid/proto";
import type { Kysely } from "kysely";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import type { DB, SourceCommand, SourceHost } from "../db/schema.js";
import { AppError, notFound } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { SecretBox } from "../lib/secret-box.js";
import type { OrgScope } from "../orgs/access.js";
import type { HostHandle, HostRouter } from "../replicas/hosts.js";
import { HostCommandError, toAppError } from "../stream/errors.js";
import type { Command } from "../stream/host-session.js";
import { type ReplyCase, type ReplyValue, sendCommand } from "../stream/replies.js";
import { hostLevelFailure, hostsFor } from "./relay-hosts.js";

export interface SourceDeadlines {
  listMs: number;
  prepareMs: number;
  /** Added to the caller's own command timeout. */
  commandGraceMs: number;
  fileMs: number;
}

interface Call<C extends ReplyCase> {
  kind: SourceCommand["kind"];
  vm: string;
  /** What the audit trail records: the command, the path, or a description. */
  command: string;
  build(connection: SourceHostConnection): Command;
  reply: C;
  timeoutMs: number;
  /** A host's reply can still be a failure (a command's non-zero exit is recorded, not thrown). */
  exitCode?(value: ReplyValue<C>): number | undefined;
  /** Runs after the host answered, with the host that did. */
  done?(hostId: string): Promise<unknown>;
  /** Why the source host's settings forbid the call, if they do (checked before any host is asked). */
  refusal?(source: SourceHost): string | undefined;
}

/** What a source host must allow before anything writes to its VMs. */
function applyRefusal(source: SourceHost): string | undefined {
  if (source.apply_enabled) return undefined;
  return (
    `applying changes is not enabled for source host ${source.name}: its VMs are read-only until an ` +
    "owner enables apply (PUT …/source-hosts/{id}/apply)"
  );
}

/** Who asks, as the login certificate's key id names them: the user, and the API key if one was used. */
function actorOf(scope: OrgScope): string {
  const { principal } = scope;
  return principal.kind === "api_key" ? `user:${principal.userId}/key:${principal.keyId}` : `user:${principal.userId}`;
}

/**
 * Read-only access to source VMs goes through one of the org's sandbox hosts: the host reaches the
 * source host over SSH with credentials the server decrypts for that one command (SPEC §5). Every
 * call is audited, refusals and failures included. A prepared VM trusts the SSH CA of the host that
 * prepared it, so commands for it go to that host; anything else goes to the least busy connected
 * host, and on to the next if that one fails as a host (see hostsFor).
 */
export class SourceRelay {
  constructor(
    private readonly deps: { db: Kysely<DB>; secrets: SecretBox; hosts: HostRouter },
    readonly deadlines: SourceDeadlines = {
      listMs: 60_000,
      prepareMs: 180_000,
      commandGraceMs: 15_000,
      fileMs: 60_000,
    },
  ) {}

  async sourceHost(scope: OrgScope, id: string): Promise<SourceHost> {
    const row = await this.deps.db
      .selectFrom("source_hosts")
      .selectAll()
      .where("id", "=", id)
      .where("org_id", "=", scope.orgId)
      .executeTakeFirst();
    if (!row) throw notFound("source host");
    return row;
  }

  async listVMs(scope: OrgScope, sourceHostId: string) {
    const value = await this.call(scope, sourceHostId, {
      kind: "list",
      vm: "*",
      command: "list VMs",
      build: (connection) => ({
        case: "listSourceVms",
        value: create(ListSourceVMsCommandSchema, { sourceHostConnection: connection }),
      }),
      reply: "sourceVmsList",
      timeoutMs: this.deadlines.listMs,
    });
    const prepared = new Set(
      (
        await this.deps.db
          .selectFrom("source_vm_preparations")
          .select("vm")
          .where("source_host_id", "=", sourceHostId)
          .where("org_id", "=", scope.orgId)
          .execute()
      ).map((row) => row.vm),
    );
    return value.vms.map((vm) => ({ ...vm, prepared: vm.prepared || prepared.has(vm.name) }));
  }

  /**
   * Prepares a VM for read-only access; with `enableApply` (only where the source host enables apply)
   * also for applying, and without it removes any apply access an earlier preparation installed.
   */
  async prepare(
    scope: OrgScope,
    sourceHostId: string,
    vm: string,
    login: { user: string; privateKey?: string },
    enableApply = false,
  ) {
    return this.call(scope, sourceHostId, {
      kind: "prepare",
      vm,
      command: `prepare as ${login.user}${enableApply ? " with apply" : ""}`,
      refusal: enableApply ? applyRefusal : undefined,
      build: (connection) => ({
        case: "prepareSourceVm",
        value: create(PrepareSourceVMCommandSchema, {
          sourceVm: vm,
          sshUser: login.user,
          sshPrivateKey: login.privateKey ?? "",
          sourceHostConnection: connection,
          enableApply,
        }),
      }),
      reply: "sourceVmPrepared",
      timeoutMs: this.deadlines.prepareMs,
      done: (hostId) =>
        this.deps.db
          .insertInto("source_vm_preparations")
          .values({
            source_host_id: sourceHostId,
            vm,
            org_id: scope.orgId,
            host_id: hostId,
            prepared_by: scope.principal.userId,
          })
          .onConflict((oc) =>
            oc.columns(["source_host_id", "vm"]).doUpdateSet({
              host_id: hostId,
              prepared_by: scope.principal.userId,
              prepared_at: new Date(),
            }),
          )
          .execute(),
    });
  }

  async run(scope: OrgScope, sourceHostId: string, vm: string, command: string, timeoutSeconds: number) {
    return this.call(scope, sourceHostId, {
      kind: "run",
      vm,
      command,
      build: (connection) => ({
        case: "runSourceCommand",
        value: create(RunSourceCommandCommandSchema, {
          sourceVm: vm,
          command,
          timeoutSeconds,
          sourceHostConnection: connection,
          actor: actorOf(scope),
        }),
      }),
      reply: "sourceCommandResult",
      timeoutMs: timeoutSeconds * 1000 + this.deadlines.commandGraceMs,
      exitCode: (result) => result.exitCode,
    });
  }

  async readFile(scope: OrgScope, sourceHostId: string, vm: string, path: string) {
    return this.call(scope, sourceHostId, {
      kind: "read_file",
      vm,
      command: path,
      build: (connection) => ({
        case: "readSourceFile",
        value: create(ReadSourceFileCommandSchema, {
          sourceVm: vm,
          path,
          sourceHostConnection: connection,
          actor: actorOf(scope),
        }),
      }),
      reply: "sourceFileResult",
      timeoutMs: this.deadlines.fileMs,
    });
  }

  /**
   * Runs a playbook against a source VM as root (`check`: `--check --diff`, nothing changes). Refused
   * here, and again by the sandbox host, unless the source host enables apply; audited as `apply`.
   * The caller (a change request's apply) decides what may be applied; this only carries it out.
   */
  async applyPlaybook(
    scope: OrgScope,
    sourceHostId: string,
    vm: string,
    run: { playbookYaml: string; check: boolean; timeoutSeconds: number; description: string },
  ) {
    return this.call(scope, sourceHostId, {
      kind: "apply",
      vm,
      command: `${run.check ? "check " : ""}${run.description}`,
      refusal: applyRefusal,
      build: (connection) => ({
        case: "applyPlaybook",
        value: create(ApplyPlaybookCommandSchema, {
          sourceVm: vm,
          sourceHostConnection: connection,
          playbookYaml: run.playbookYaml,
          check: run.check,
          timeoutSeconds: run.timeoutSeconds,
          actor: actorOf(scope),
        }),
      }),
      reply: "playbookRun",
      timeoutMs: run.timeoutSeconds * 1000 + this.deadlines.commandGraceMs,
      exitCode: (result) => result.exitCode,
    });
  }

  async audit(scope: OrgScope, page: { limit: number; sourceHostId?: string | undefined; vm?: string | undefined }) {
    let query = this.deps.db
      .selectFrom("source_commands")
      .selectAll()
      .where("org_id", "=", scope.orgId)
      .orderBy("started_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit);
    if (page.sourceHostId) query = query.where("source_host_id", "=", page.sourceHostId);
    if (page.vm) query = query.where("vm", "=", page.vm);
    return query.execute();
  }

  private async call<C extends ReplyCase>(
    scope: OrgScope,
    sourceHostId: string,
    call: Call<C>,
  ): Promise<ReplyValue<C>> {
    const source = await this.sourceHost(scope, sourceHostId);
    const connection = this.connection(source);
    const started = Date.now();
    const record = (
      host: HostHandle | undefined,
      outcome: SourceCommand["outcome"],
      exitCode: number | null,
      detail: string | null,
    ) =>
      this.deps.db.transaction().execute(async (tx) => {
        const row = await tx
          .insertInto("source_commands")
          .values({
            id: newId(),
            org_id: scope.orgId,
            source_host_id: source.id,
            source_host_name: source.name,
            host_id: host?.hostId ?? null,
            vm: call.vm,
            kind: call.kind,
            command: call.command,
            outcome,
            exit_code: exitCode,
            detail: detail?.slice(0, 1000) ?? null,
            actor_user_id: scope.principal.userId,
            actor_key_id: scope.principal.kind === "api_key" ? scope.principal.keyId : null,
            duration_ms: Date.now() - started,
          })
          .returning(["id", "source_host_id", "vm", "kind", "command", "outcome", "exit_code"])
          .executeTakeFirstOrThrow();
        await appendAuditEvent(tx, {
          orgId: scope.orgId,
          actor: auditActorOf(scope.principal),
          action: "source.command",
          target: { type: "source_vm", id: `${row.source_host_id}/${row.vm}` },
          details: {
            source_command_id: row.id,
            kind: row.kind,
            command: row.command,
            outcome: row.outcome,
            exit_code: row.exit_code,
          },
        });
      });
    const refusal = call.refusal?.(source);
    if (refusal) {
      await record(undefined, "refused", null, refusal);
      throw new AppError("forbidden", refusal);
    }
    const { hosts, missing, code } = await hostsFor(this.deps, scope, source.id, call);
    if (hosts.length === 0) {
      await record(undefined, "failed", null, missing);
      throw new AppError(code ?? "host_unavailable", missing);
    }
    const tried: string[] = [];
    for (const [index, host] of hosts.entries()) {
      try {
        const value = await sendCommand(host, call.build(connection), call.reply, call.timeoutMs);
        await call.done?.(host.hostId);
        await record(host, "ok", call.exitCode?.(value) ?? null, tried.length > 0 ? tried.join("; ") : null);
        return value;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // The host went away mid-call, or cannot reach source hosts at all: another host can do it.
        if (index < hosts.length - 1 && hostLevelFailure(err)) {
          tried.push(`host ${host.hostId}: ${message}`);
          continue;
        }
        const refused = err instanceof HostCommandError && err.hostCode === "command_refused";
        await record(host, refused ? "refused" : "failed", null, [...tried, message].join("; "));
        throw toAppError(err, `${call.kind.replace("_", " ")} on ${source.name}`);
      }
    }
    throw new Error("unreachable: the loop returns or throws");
  }

  /** The credentials for one command to an org's source host (404 for another org's). */
  async connectionFor(scope: OrgScope, sourceHostId: string): Promise<SourceHostConnection> {
    return this.connection(await this.sourceHost(scope, sourceHostId));
  }

  /** The credentials for one command; opened here and never logged. */
  private connection(source: SourceHost): SourceHostConnection {
    if (source.type !== "libvirt") {
      throw new AppError("not_implemented", `${source.type} source hosts are recorded but not supported yet`);
    }
    return create(SourceHostConnectionSchema, {
      type: "libvirt",
      sshHost: source.hostname,
      sshPort: source.ssh_port,
      sshUser: source.ssh_user,
      sshPrivateKey: source.ssh_private_key
        ? this.deps.secrets.open(source.ssh_private_key, `source_hosts.ssh_private_key:${source.id}`)
        : "",
      sshHostKey: source.ssh_host_key ?? "",
      sourceHostId: source.id,
      applyEnabled: source.apply_enabled,
    });
  }
}
