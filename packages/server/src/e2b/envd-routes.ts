import { posix } from "node:path";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { AppError, invalid } from "../http/errors.js";
import type { App } from "../http/types.js";
import type { OrgScope } from "../orgs/access.js";
import { sandboxLimits } from "../sandboxes/limits.js";
import type { SandboxService } from "../sandboxes/service.js";
import { accessTokenHeader, e2bScope, sandboxIdOf } from "./auth.js";
import { ConnectStream, readEnvelopedRequest } from "./connect.js";
import { connectError, connectStatus, notSupported } from "./errors.js";
import { filesystemMethods } from "./filesystem-service.js";
import { GuestFiles, guestPath } from "./guest-fs.js";
import { parse } from "./parse.js";
import { processMethods } from "./process-methods.js";
import { connectProcess, startProcess } from "./process-service.js";
import { isPtyStart, ptyCall, startPty } from "./pty.js";

interface Ctx {
  db: Kysely<DB>;
  access: AccessCache;
  sandboxes: SandboxService;
}

/** A multipart upload of the largest file fluid takes, with room for its part headers. */
const UPLOAD_LIMIT_BYTES = sandboxLimits.maxFileBytes + 64 * 1024;
const FilesQuery = z.looseObject({ path: z.string().optional(), username: z.string().optional() });

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const isStreaming = (request: FastifyRequest) =>
  (request.headers["content-type"] ?? "").startsWith("application/connect+json");

/**
 * envd as the E2B SDK reaches it through E2B_SANDBOX_URL: the Connect services `process.Process`
 * and `filesystem.Filesystem`, and `/files` for downloads and uploads. Every call names its sandbox
 * in `E2b-Sandbox-Id` and carries the caller's key as `X-Access-Token`.
 */
export function envdRoutes(app: App, ctx: Ctx): void {
  const { sandboxes } = ctx;
  const target = async (request: FastifyRequest): Promise<{ scope: OrgScope; id: string }> => {
    const id = sandboxIdOf(request);
    return { scope: await e2bScope(ctx, request, accessTokenHeader), id };
  };

  app.addContentTypeParser("application/connect+json", { parseAs: "buffer" }, (_request, body, done) =>
    done(null, body),
  );
  app.addContentTypeParser(
    "application/octet-stream",
    { parseAs: "buffer", bodyLimit: UPLOAD_LIMIT_BYTES },
    (_r, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    /^multipart\/form-data/,
    { parseAs: "buffer", bodyLimit: UPLOAD_LIMIT_BYTES },
    (_r, body, done) => done(null, body),
  );

  const rpc = async (request: FastifyRequest, reply: FastifyReply) => {
    const { service, method } = request.params as { service: string; method: string };
    if (isStreaming(request)) {
      const stream = new ConnectStream(reply);
      try {
        const body = readEnvelopedRequest(request.body);
        const { scope, id } = await target(request);
        const options = { stream, keepaliveHeader: header(request, "keepalive-ping-interval") };
        if (service === "process.Process" && method === "Start" && isPtyStart(body)) {
          await startPty(sandboxes, scope, id, body, stream);
        } else if (service === "process.Process" && method === "Start") {
          await startProcess(ctx, scope, id, body, {
            ...options,
            timeoutHeader: header(request, "connect-timeout-ms"),
          });
        } else if (service === "process.Process" && method === "Connect") {
          await connectProcess(ctx, scope, id, body, options);
        } else {
          throw notSupported(`${service}/${method}`);
        }
        stream.end();
      } catch (err) {
        if (!(err instanceof AppError)) request.log.error({ err }, "envd stream failed");
        stream.end(err);
      }
      return;
    }
    try {
      const { scope, id } = await target(request);
      // A pty's pid answers its own calls; every other pid is a background process.
      const pty = service === "process.Process" ? await ptyCall(method, scope, id, request.body) : undefined;
      if (pty) return pty;
      if (service === "process.Process" && Object.hasOwn(processMethods, method)) {
        return await (processMethods[method] as (typeof processMethods)[string])(ctx, scope, id, request.body);
      }
      // Own keys only: a method named like an Object.prototype member ("constructor") is not one.
      const handler =
        service === "filesystem.Filesystem" && Object.hasOwn(filesystemMethods, method)
          ? filesystemMethods[method]
          : undefined;
      if (!handler) throw notSupported(`${service}/${method}`);
      return await handler(sandboxes, scope, id, request.body);
    } catch (err) {
      if (!(err instanceof AppError)) request.log.error({ err }, "envd call failed");
      const error = connectError(err);
      return reply.code(connectStatus[error.code]).send(error);
    }
  };
  app.post("/envd/:service/:method", { schema: { hide: true } }, rpc);

  app.get("/envd/health", { schema: { hide: true } }, async (request, reply) => {
    const { scope, id } = await target(request);
    const sandbox = await sandboxes.get(scope, id);
    return reply.code(sandbox.state === "RUNNING" && !sandbox.ended_at ? 204 : 502).send();
  });

  app.get("/envd/files", { schema: { hide: true } }, async (request, reply) => {
    const { scope, id } = await target(request);
    const path = guestPath(parse(FilesQuery, request.query, "query").path ?? "");
    const file = await sandboxes.readFile(scope, id, path, sandboxLimits.maxFileBytes);
    if (file.truncated) throw notSupported(`reading files over ${sandboxLimits.maxFileBytes} bytes`);
    return reply.type("application/octet-stream").send(Buffer.from(file.content));
  });

  app.post("/envd/files", { schema: { hide: true }, bodyLimit: UPLOAD_LIMIT_BYTES }, async (request) => {
    const { scope, id } = await target(request);
    const query = parse(FilesQuery, request.query, "query");
    const uploads = await uploadsOf(request, query.path);
    const written = [];
    for (const upload of uploads) {
      await writeCreatingParents(sandboxes, scope, id, upload.path, upload.content);
      written.push({ name: posix.basename(upload.path), type: "file", path: upload.path });
    }
    return written;
  });
}

/** The files of an upload: an octet-stream body for `path`, or multipart `file` parts named by path. */
async function uploadsOf(
  request: FastifyRequest,
  path: string | undefined,
): Promise<{ path: string; content: Uint8Array }[]> {
  const body = request.body;
  if (!Buffer.isBuffer(body)) throw invalid("send the file as multipart/form-data or application/octet-stream");
  const type = request.headers["content-type"] ?? "";
  if (type.startsWith("application/octet-stream")) {
    if (request.headers["content-encoding"]) throw notSupported("compressed uploads");
    return [{ path: guestPath(path ?? ""), content: body }];
  }
  const form = await new Response(Uint8Array.from(body), { headers: { "content-type": type } }).formData().catch(() => {
    throw invalid("the multipart body could not be read");
  });
  const files = form
    .getAll("file")
    .filter((part): part is Exclude<ReturnType<FormData["get"]>, string | null> => typeof part !== "string");
  if (files.length === 0) throw invalid("the upload has no 'file' part");
  if (path !== undefined && files.length > 1)
    throw invalid("several files need no path parameter (each part names its own)");
  return Promise.all(
    files.map(async (file) => ({
      path: guestPath(path ?? file.name),
      content: new Uint8Array(await file.arrayBuffer()),
    })),
  );
}

/** Writes a file; when its directory is missing (envd creates it), makes it and writes again. */
async function writeCreatingParents(
  sandboxes: SandboxService,
  scope: OrgScope,
  id: string,
  path: string,
  content: Uint8Array,
): Promise<void> {
  try {
    await sandboxes.writeFile(scope, id, { path, content });
  } catch (err) {
    if (!(err instanceof AppError) || !["not_found", "host_error", "invalid_request"].includes(err.code)) throw err;
    const files = new GuestFiles(sandboxes, scope, id);
    const created = await files.makeDir(posix.dirname(path)).catch(() => false);
    if (!created) throw err;
    await sandboxes.writeFile(scope, id, { path, content });
  }
}
