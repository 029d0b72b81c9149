import { chmod, lstat, rm } from "node:fs/promises";
import { errorStatus } from "@fluid/proto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import {
  DEFAULT_PLAYBOOK_TIMEOUT_SECONDS,
  MAX_PLAYBOOK_BYTES,
  MAX_PLAYBOOK_TIMEOUT_SECONDS,
  runPlaybook,
} from "../ansible/run-playbook.js";
import { codeOf, SandboxError } from "../errors.js";
import type { ImageSource } from "../images/source.js";
import { canonicalAllowlist, MAX_EGRESS_ENTRIES } from "../network/egress.js";
import { parseNoiseOverride } from "../review/noise.js";
import { diffSandbox } from "../review/sandbox-diff.js";
import { sandboxDefaults, sandboxLimits } from "../sandboxes/defaults.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import type { WarmPool } from "../sandboxes/pool.js";
import type { SandboxRow, SnapshotRow } from "../state/schema.js";

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/);
const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);

const CreateBody = z.strictObject({
  image: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  name: Name.optional(),
  vcpus: z.number().int().min(sandboxLimits.minVcpus).max(sandboxLimits.maxVcpus).default(sandboxDefaults.vcpus),
  memory_mb: z
    .number()
    .int()
    .min(sandboxLimits.minMemoryMb)
    .max(sandboxLimits.maxMemoryMb)
    .default(sandboxDefaults.memoryMb),
  ttl_seconds: z
    .number()
    .int()
    .min(sandboxLimits.minTtlSeconds)
    .max(30 * 86_400)
    .optional(),
  allow_egress: z.boolean().default(false),
  egress_allow: z.array(z.string().max(300)).max(MAX_EGRESS_ENTRIES).optional(),
});

const RunBody = z.strictObject({
  command: z.string().min(1).max(sandboxLimits.maxCommandBytes),
  timeout_seconds: z
    .number()
    .int()
    .min(1)
    .max(sandboxLimits.maxCommandTimeoutSeconds)
    .default(sandboxDefaults.commandTimeoutSeconds),
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/), z.string().max(sandboxLimits.maxEnvValueBytes))
    .optional(),
});

export function sandboxJson(row: SandboxRow) {
  return {
    id: row.id,
    name: row.name,
    image: row.image,
    state: row.state,
    vcpus: row.vcpus,
    memory_mb: row.memory_mb,
    allow_egress: row.allow_egress === 1,
    egress_allow: row.egress_allow === null ? null : (JSON.parse(row.egress_allow) as string[]),
    ip_address: row.ip,
    mac_address: row.mac,
    pid: row.pid,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: row.expires_at ? new Date(row.expires_at).toISOString() : null,
    ended_at: row.ended_at ? new Date(row.ended_at).toISOString() : null,
    end_reason: row.end_reason,
    error: row.error,
  };
}

export function snapshotJson(row: SnapshotRow) {
  return {
    id: row.id,
    sandbox_id: row.sandbox_id,
    name: row.name,
    image: row.image,
    has_memory: row.has_memory === 1,
    size_bytes: row.size_bytes,
    created_at: new Date(row.created_at).toISOString(),
  };
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SandboxError("invalid_request", `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

/**
 * Standalone mode: the same sandbox operations as the control plane, over HTTP on a unix socket
 * only this user can open (0600). Used by the CLI when there is no server, and by tests.
 */
export function buildLocalApi(deps: {
  manager: SandboxManager;
  images: ImageSource;
  log: Logger;
  pool?: Pick<WarmPool, "status"> | undefined;
  /** Whether the daemon is registered with its control plane; absent when it runs standalone. */
  controlPlane?: { registered(): boolean } | undefined;
}): FastifyInstance {
  const { manager, images } = deps;
  const app = Fastify({ loggerInstance: deps.log as FastifyBaseLogger, bodyLimit: sandboxLimits.maxLocalFileBytes });
  // Action routes (start, stop, delete) have no body; clients that still send a JSON content type get {}.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, body === "" ? {} : JSON.parse(body as string));
    } catch {
      done(new SandboxError("invalid_request", "request body is not valid JSON"), undefined);
    }
  });
  app.addContentTypeParser(
    "application/octet-stream",
    { parseAs: "buffer", bodyLimit: sandboxLimits.maxLocalFileBytes },
    (_req, body, done) => done(null, body),
  );
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (err instanceof SandboxError) {
      return reply.code(errorStatus[err.code]).send({ error: { code: err.code, message: err.message } });
    }
    if (err.statusCode && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: { code: "invalid_request", message: err.message } });
    }
    deps.log.error({ err }, "local API request failed");
    const code = codeOf(err);
    return reply.code(errorStatus[code]).send({ error: { code, message: err.message } });
  });
  const id = (params: unknown) => parse(z.object({ id: Id }), params).id;

  app.get("/v1/health", async () => ({ status: "ok" }));
  // Probes for a supervisor: alive while the process answers; ready once registered with the control
  // plane (standalone there is nothing to wait for), and not ready again while it reconnects.
  app.get("/livez", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const registered = deps.controlPlane ? deps.controlPlane.registered() : true;
    const control_plane = registered ? { ok: true } : { ok: false, error: "not registered with a control plane" };
    return reply
      .code(registered ? 200 : 503)
      .send({ status: registered ? "ready" : "not_ready", checks: { control_plane } });
  });
  app.get("/v1/images", async () => ({ images: await images.names() }));
  app.get("/v1/warm-pool", async () => ({
    pools: (deps.pool?.status() ?? []).map((pool) => ({
      image: pool.image,
      size: pool.size,
      ready: pool.ready,
      vcpus: pool.vcpus,
      memory_mb: pool.memoryMb,
    })),
  }));

  app.post("/v1/sandboxes", async (request, reply) => {
    const body = parse(CreateBody, request.body);
    const row = await manager.create({
      name: body.name,
      image: body.image,
      vcpus: body.vcpus,
      memoryMb: body.memory_mb,
      allowEgress: body.allow_egress,
      egressAllow: body.egress_allow,
      expiresAt: body.ttl_seconds ? Date.now() + body.ttl_seconds * 1000 : undefined,
    });
    return reply.code(201).send(sandboxJson(row));
  });
  app.get("/v1/sandboxes", async (request) => {
    const query = parse(z.object({ include_ended: z.enum(["true", "false"]).default("false") }), request.query);
    const rows = await manager.list({ includeEnded: query.include_ended === "true" });
    return { sandboxes: rows.map(sandboxJson), count: rows.length };
  });
  app.get("/v1/sandboxes/:id", async (request) => sandboxJson(await manager.get(id(request.params))));
  app.delete("/v1/sandboxes/:id", async (request) => {
    const sandboxId = id(request.params);
    await manager.destroy(sandboxId);
    return sandboxJson(await manager.get(sandboxId));
  });
  app.post("/v1/sandboxes/:id/start", async (request) => sandboxJson(await manager.start(id(request.params))));
  app.post("/v1/sandboxes/:id/stop", async (request) => {
    const body = parse(z.strictObject({ force: z.boolean().default(false) }), request.body);
    return sandboxJson(await manager.stop(id(request.params), body.force));
  });
  app.post("/v1/sandboxes/:id/run", async (request) => {
    const body = parse(RunBody, request.body);
    const result = await manager.exec(id(request.params), {
      command: body.command,
      env: body.env,
      timeoutSeconds: body.timeout_seconds,
    });
    return {
      stdout: result.stdout.toString("utf8"),
      stderr: result.stderr.toString("utf8"),
      exit_code: result.exitCode,
      duration_ms: result.durationMs,
      timed_out: result.timedOut,
      stdout_truncated: result.stdoutTruncated,
      stderr_truncated: result.stderrTruncated,
    };
  });
  app.get("/v1/sandboxes/:id/files", async (request, reply) => {
    const query = parse(z.object({ path: z.string().min(1) }), request.query);
    const file = await manager.readFile(id(request.params), query.path, sandboxLimits.maxLocalFileBytes);
    return reply
      .header("content-type", "application/octet-stream")
      .header("x-fluid-truncated", String(file.truncated))
      .send(file.data);
  });
  app.put("/v1/sandboxes/:id/files", async (request) => {
    const query = parse(z.object({ path: z.string().min(1) }), request.query);
    if (!Buffer.isBuffer(request.body))
      throw new SandboxError("invalid_request", "send the file as application/octet-stream");
    await manager.writeFile(id(request.params), query.path, request.body);
    return { path: query.path, size_bytes: request.body.length };
  });
  app.get("/v1/sandboxes/:id/diff", async (request) => {
    const query = parse(
      z.object({ noise: z.string().max(65_536).optional(), playbook: z.enum(["true", "false"]).default("false") }),
      request.query,
    );
    const { diff, playbook } = await diffSandbox(manager, id(request.params), {
      noise: query.noise ? parseNoiseOverride(query.noise) : undefined,
      withPlaybook: query.playbook === "true",
    });
    return playbook ? { ...diff, playbook } : diff;
  });
  app.post("/v1/sandboxes/:id/playbook-runs", async (request) => {
    const body = parse(
      z.strictObject({
        playbook_yaml: z.string().min(1).max(MAX_PLAYBOOK_BYTES),
        check: z.boolean().default(false),
        timeout_seconds: z
          .number()
          .int()
          .min(1)
          .max(MAX_PLAYBOOK_TIMEOUT_SECONDS)
          .default(DEFAULT_PLAYBOOK_TIMEOUT_SECONDS),
      }),
      request.body,
    );
    const result = await runPlaybook(manager, id(request.params), {
      playbookYaml: body.playbook_yaml,
      check: body.check,
      timeoutSeconds: body.timeout_seconds,
    });
    return {
      exit_code: result.exitCode,
      recap: result.recap ?? null,
      log: result.log,
      log_truncated: result.logTruncated,
      duration_ms: result.durationMs,
      timed_out: result.timedOut,
    };
  });
  app.get("/v1/sandboxes/:id/dir", async (request) => {
    const query = parse(z.object({ path: z.string().min(1) }), request.query);
    const entries = await manager.listFiles(id(request.params), query.path);
    return {
      path: query.path,
      entries: entries.map((e) => ({
        name: e.name,
        type: e.type,
        size: e.size,
        modified_at: new Date(e.modifiedUnix * 1000).toISOString(),
      })),
    };
  });
  app.post("/v1/sandboxes/:id/ssh", async (request) => {
    const body = parse(
      z.strictObject({
        public_key: z.string().min(1).max(4096),
        ttl_seconds: z.number().int().min(60).max(3600).default(300),
      }),
      request.body,
    );
    const access = await manager.sshAccess(id(request.params), {
      publicKey: body.public_key,
      ttlSeconds: body.ttl_seconds,
      requestedBy: "local",
    });
    return {
      user: access.user,
      host: access.host,
      port: access.port,
      certificate: access.certificate,
      valid_before: access.validBefore.toISOString(),
    };
  });
  app.post("/v1/sandboxes/:id/extend", async (request) => {
    const body = parse(
      z.strictObject({
        ttl_seconds: z
          .number()
          .int()
          .min(60)
          .max(30 * 86_400),
      }),
      request.body,
    );
    const sandboxId = id(request.params);
    await manager.extend(sandboxId, Date.now() + body.ttl_seconds * 1000);
    return sandboxJson(await manager.get(sandboxId));
  });
  app.post("/v1/sandboxes/:id/egress", async (request) => {
    const body = parse(
      z.union([
        z.strictObject({ allowed: z.boolean() }),
        z.strictObject({ allow: z.array(z.string().max(300)).min(1).max(MAX_EGRESS_ENTRIES) }),
      ]),
      request.body,
    );
    const sandboxId = id(request.params);
    await manager.setEgress(sandboxId, "allowed" in body ? body.allowed : canonicalAllowlist(body.allow));
    return sandboxJson(await manager.get(sandboxId));
  });
  app.post("/v1/sandboxes/:id/snapshots", async (request, reply) => {
    const body = parse(z.strictObject({ name: Name, include_memory: z.boolean().default(false) }), request.body);
    const snapshot = await manager.snapshot(id(request.params), {
      name: body.name,
      includeMemory: body.include_memory,
    });
    return reply.code(201).send(snapshotJson(snapshot));
  });
  app.get("/v1/sandboxes/:id/snapshots", async (request) => {
    const rows = await manager.listSnapshots(id(request.params));
    return { snapshots: rows.map(snapshotJson), count: rows.length };
  });
  app.post("/v1/snapshots/:id/restore", async (request) => {
    const body = parse(z.strictObject({ sandbox_id: Id }), request.body);
    return sandboxJson(await manager.restore(body.sandbox_id, id(request.params)));
  });
  app.post("/v1/snapshots/:id/fork", async (request, reply) => {
    const body = parse(
      z.strictObject({
        count: z.number().int().min(1).max(16).default(1),
        ttl_seconds: z.number().int().min(60).optional(),
        allow_egress: z.boolean().default(false),
        network: z.enum(["isolated", "shared"]).default("isolated"),
      }),
      request.body,
    );
    const expiresAt = body.ttl_seconds ? Date.now() + body.ttl_seconds * 1000 : undefined;
    const sharedNetwork = body.network === "shared";
    const rows = await manager.fork(
      id(request.params),
      Array.from({ length: body.count }, () => ({ expiresAt, allowEgress: body.allow_egress, sharedNetwork })),
    );
    return reply.code(201).send({ sandboxes: rows.map(sandboxJson), count: rows.length });
  });
  app.delete("/v1/snapshots/:id", async (request) => {
    await manager.deleteSnapshot(id(request.params));
    return { status: "deleted" };
  });
  return app;
}

/** Listens on a unix socket that only the daemon's user can use; a stale socket file is replaced. */
export async function listenOnSocket(app: FastifyInstance, path: string): Promise<void> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isSocket()) await rm(path);
  else if (existing) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  await app.listen({ path });
  await chmod(path, 0o600);
}
