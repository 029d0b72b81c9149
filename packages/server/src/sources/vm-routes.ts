import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB, SourceCommand } from "../db/schema.js";
import { errorResponses, FreeText, iso, OrgParams, securityAny, Timestamp, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import type { SecretBox } from "../lib/secret-box.js";
import { orgScope } from "../orgs/access.js";
import type { HostRouter } from "../replicas/hosts.js";
import { InspectionSchema, inspectionCommand } from "./inspections.js";
import { SourceRelay } from "./relay.js";

/** A libvirt domain name as fluid accepts it: it reaches `virsh` on a production host. */
const VmName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a VM name: 1-64 letters, digits, . _ - (no leading . _ -)");
const VmParams = z.strictObject({ slug: OrgParams.shape.slug, sourceHostId: Uuid, vm: VmName });
const HostParams = z.strictObject({ slug: OrgParams.shape.slug, sourceHostId: Uuid });

const RunBody = z.strictObject({
  command: FreeText.min(1).max(8192).describe("checked against the read-only policy on the host and on the VM"),
  timeout_seconds: z.number().int().min(1).max(600).default(30),
});
const PrepareBody = z.strictObject({
  ssh_user: z
    .string()
    .regex(/^[a-z_][a-z0-9_.-]{0,31}$/, "must be a valid Unix user name")
    .default("root")
    .describe("a user on the VM that may use sudo (or root)"),
  ssh_private_key: FreeText.max(16_384)
    .optional()
    .describe("key for that user, used for this preparation only and not stored (default: the source host's key)"),
  apply: z
    .boolean()
    .default(false)
    .describe(
      "also let fluid apply approved changes as root (one-time fluid-apply certificates); refused unless the source host enables apply. Without it, apply access an earlier preparation installed is removed",
    ),
});
const FileQuery = z.strictObject({
  path: FreeText.min(1).max(4096).regex(/^\//, "must be an absolute path"),
});
const AuditQuery = z.strictObject({
  source_host_id: Uuid.optional(),
  vm: VmName.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const SourceVmSchema = z
  .object({
    name: z.string(),
    state: z.string(),
    ip_address: z.string().nullable(),
    prepared: z.boolean(),
    cached_captured_at: Timestamp.nullable().describe(
      "when the cached copy of the VM's disk was captured (what a sandbox from it starts from); null: none yet",
    ),
  })
  .meta({ id: "SourceVm" });
const SourceCommandSchema = z
  .object({
    id: z.uuid(),
    source_host_id: z.uuid(),
    source_host_name: z.string(),
    host_id: z.uuid().nullable(),
    vm: z.string(),
    kind: z.enum(["list", "prepare", "run", "read_file", "apply"]),
    command: z.string(),
    outcome: z.enum(["ok", "refused", "failed"]),
    exit_code: z.number().int().nullable(),
    detail: z.string().nullable(),
    actor_user_id: z.uuid(),
    actor_key_id: z.uuid().nullable(),
    started_at: Timestamp,
    duration_ms: z.number().int(),
  })
  .meta({ id: "SourceCommand" });

function auditView(row: SourceCommand): z.infer<typeof SourceCommandSchema> {
  return { ...row, started_at: iso(row.started_at) };
}

/**
 * Read-only access to production VMs on the org's source hosts: discovery, one-time preparation,
 * policy-checked commands and file reads, and the audit trail of all of it.
 */
export function sourceVmRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; secrets: SecretBox; hosts: HostRouter },
): void {
  const relay = new SourceRelay(ctx);

  app.get(
    "/v1/orgs/:slug/source-hosts/:sourceHostId/vms",
    {
      schema: {
        operationId: "listSourceVms",
        tags: ["source-vms"],
        summary: "Discover the VMs on a source host (virsh over SSH, through a connected sandbox host)",
        security: securityAny,
        params: HostParams,
        response: {
          200: z.object({ vms: z.array(SourceVmSchema), count: z.number().int() }),
          ...errorResponses,
          501: errorResponses[500],
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const vms = await relay.listVMs(scope, request.params.sourceHostId);
      return {
        vms: vms.map((vm) => ({
          name: vm.name,
          state: vm.state,
          ip_address: vm.ipAddress || null,
          prepared: vm.prepared,
          cached_captured_at:
            vm.cachedCapturedAt && !Number.isNaN(Date.parse(vm.cachedCapturedAt))
              ? new Date(vm.cachedCapturedAt).toISOString()
              : null,
        })),
        count: vms.length,
      };
    },
  );

  app.post(
    "/v1/orgs/:slug/source-hosts/:sourceHostId/vms/:vm/prepare",
    {
      schema: {
        operationId: "prepareSourceVm",
        tags: ["source-vms"],
        summary:
          "Prepare a VM for read-only access (admin): read-only user, restricted shell, CA key, sshd; with apply, also the apply principal",
        security: securityAny,
        params: VmParams,
        body: PrepareBody,
        response: {
          200: z.object({
            source_vm: z.string(),
            ip_address: z.string().nullable(),
            prepared: z.boolean(),
            steps: z.object({
              user_created: z.boolean(),
              shell_installed: z.boolean(),
              ca_key_installed: z.boolean(),
              sshd_configured: z.boolean(),
              principals_created: z.boolean(),
              sshd_restarted: z.boolean(),
              apply_access_installed: z.boolean(),
            }),
          }),
          ...errorResponses,
          501: errorResponses[500],
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const { ssh_user, ssh_private_key, apply } = request.body;
      const result = await relay.prepare(
        scope,
        request.params.sourceHostId,
        request.params.vm,
        { user: ssh_user, ...(ssh_private_key === undefined ? {} : { privateKey: ssh_private_key }) },
        apply,
      );
      return {
        source_vm: result.sourceVm,
        ip_address: result.ipAddress || null,
        prepared: result.prepared,
        steps: {
          user_created: result.userCreated,
          shell_installed: result.shellInstalled,
          ca_key_installed: result.caKeyInstalled,
          sshd_configured: result.sshdConfigured,
          principals_created: result.principalsCreated,
          sshd_restarted: result.sshdRestarted,
          apply_access_installed: result.applyAccessInstalled,
        },
      };
    },
  );

  app.post(
    "/v1/orgs/:slug/source-hosts/:sourceHostId/vms/:vm/run",
    {
      schema: {
        operationId: "runSourceCommand",
        tags: ["source-vms"],
        summary: "Run a read-only command on a source VM (refused unless the read-only policy allows it)",
        security: securityAny,
        params: VmParams,
        body: RunBody,
        response: {
          200: z.object({ source_vm: z.string(), exit_code: z.number().int(), stdout: z.string(), stderr: z.string() }),
          ...errorResponses,
          501: errorResponses[500],
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const { command, timeout_seconds } = request.body;
      const result = await relay.run(scope, request.params.sourceHostId, request.params.vm, command, timeout_seconds);
      return { source_vm: result.sourceVm, exit_code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
    },
  );

  app.post(
    "/v1/orgs/:slug/source-hosts/:sourceHostId/vms/:vm/inspect",
    {
      schema: {
        operationId: "inspectSourceVm",
        tags: ["source-vms"],
        summary:
          "Typed read-only inspection of a source VM (list_dir, stat, unit_status, journal, packages, processes, listening_sockets)",
        description:
          "Runs one command line built from the typed arguments, under the same read-only policy and audit as …/run.",
        security: securityAny,
        params: VmParams,
        body: InspectionSchema,
        response: {
          200: z.object({
            source_vm: z.string(),
            kind: z.string(),
            command: z.string().describe("the command line that ran"),
            exit_code: z.number().int(),
            stdout: z.string(),
            stderr: z.string(),
          }),
          ...errorResponses,
          501: errorResponses[500],
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const command = inspectionCommand(request.body);
      const result = await relay.run(scope, request.params.sourceHostId, request.params.vm, command, 30);
      return {
        source_vm: result.sourceVm,
        kind: request.body.kind,
        command,
        exit_code: result.exitCode,
        stdout: result.stdout,
        stderr: result.stderr,
      };
    },
  );

  app.get(
    "/v1/orgs/:slug/source-hosts/:sourceHostId/vms/:vm/file",
    {
      schema: {
        operationId: "readSourceFile",
        tags: ["source-vms"],
        summary: "Read a file on a source VM (path policy and size cap apply)",
        security: securityAny,
        params: VmParams,
        querystring: FileQuery,
        response: {
          200: z.object({
            source_vm: z.string(),
            path: z.string(),
            encoding: z.enum(["utf-8", "base64"]),
            content: z.string(),
          }),
          ...errorResponses,
          501: errorResponses[500],
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const result = await relay.readFile(scope, request.params.sourceHostId, request.params.vm, request.query.path);
      // The host sends the bytes base64-encoded; text comes back as text, anything else stays base64.
      const bytes = Buffer.from(result.content, "base64");
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
      const isText = Buffer.from(text, "utf8").equals(bytes) && !text.includes("\0");
      return {
        source_vm: result.sourceVm,
        path: result.path,
        encoding: isText ? ("utf-8" as const) : ("base64" as const),
        content: isText ? text : result.content,
      };
    },
  );

  app.get(
    "/v1/orgs/:slug/source-commands",
    {
      schema: {
        operationId: "listSourceCommands",
        tags: ["source-vms"],
        summary: "The audit trail of read-only access to source VMs, newest first",
        security: securityAny,
        params: OrgParams,
        querystring: AuditQuery,
        response: {
          200: z.object({ source_commands: z.array(SourceCommandSchema), count: z.number().int() }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const rows = await relay.audit(scope, {
        limit: request.query.limit,
        sourceHostId: request.query.source_host_id,
        vm: request.query.vm,
      });
      return { source_commands: rows.map(auditView), count: rows.length };
    },
  );
}
