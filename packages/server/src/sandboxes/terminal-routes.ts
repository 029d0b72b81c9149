import { terminalLimits } from "@fluid/proto";
import type { FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { WebSocket } from "ws";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { AppError, isAppError } from "../http/errors.js";
import { errorResponses, OrgParams, securityAny, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import type { SandboxService } from "./service.js";
import type { TerminalLink } from "./terminal-link.js";

const Size = z.coerce.number().int().min(terminalLimits.minSize).max(terminalLimits.maxSize);

const TerminalQuery = z.strictObject({
  cols: Size.default(80).describe("the terminal's width in columns"),
  rows: Size.default(24).describe("the terminal's height in rows"),
});

/** Client to server control messages (text frames); binary frames are keystrokes. */
const ControlFrame = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("resize"), cols: Size, rows: Size }),
]);

const DESCRIPTION =
  "Upgrades to a WebSocket carrying a login shell's terminal (a PTY in the guest). Binary frames are terminal " +
  "bytes both ways. Text frames are JSON control messages: the client sends " +
  '`{"type":"resize","cols":N,"rows":N}`; the server sends `{"type":"exit"}` when the shell ends and ' +
  '`{"type":"error","code":"...","message":"..."}` on a failure, then closes. Failures before the upgrade ' +
  "(authentication, permission, a sandbox not RUNNING, `no_capacity` with 4 terminals already open) are " +
  "ordinary error replies. The terminal must be opened through the server replica its sandbox's host streams " +
  "to; another replica answers `host_unavailable`. A browser's session cookie goes with the upgrade.";

/** The terminal opened before the upgrade, and what it printed before the socket was there. */
interface Pending {
  link: TerminalLink;
  early: Buffer[];
  ended: boolean;
  attach(socket: WebSocket): void;
}

const pendingTerminals = new WeakMap<FastifyRequest, Pending>();

type Ctx = { db: Kysely<DB>; access: AccessCache; sandboxes: SandboxService };

/**
 * `GET .../terminal`: the terminal is opened before the upgrade (in preHandler), so every refusal
 * is a plain HTTP error; the WebSocket then only relays.
 */
export function terminalRoutes(app: App, ctx: Ctx): void {
  app.route({
    method: "GET",
    url: "/v1/orgs/:slug/sandboxes/:id/terminal",
    schema: {
      operationId: "openSandboxTerminal",
      tags: ["sandboxes"],
      summary: "Open a terminal (interactive login shell) in a running sandbox over WebSocket",
      description: DESCRIPTION,
      security: securityAny,
      params: z.strictObject({ slug: OrgParams.shape.slug, id: Uuid }),
      querystring: TerminalQuery,
      response: {
        101: z.null().describe("switched to the WebSocket protocol; the terminal is open"),
        ...errorResponses,
      },
    },
    preHandler: async (request) => {
      const { slug, id } = request.params as { slug: string; id: string };
      const { cols, rows } = request.query as z.infer<typeof TerminalQuery>;
      const scope = await orgScope(ctx, request, slug, "member");
      if (!request.ws) {
        await ctx.sandboxes.checkTerminal(scope, id);
        return;
      }
      let socket: WebSocket | undefined;
      const pending: Pending = {
        link: undefined as never,
        early: [],
        ended: false,
        attach: (ws) => {
          socket = ws;
          for (const data of pending.early.splice(0)) ws.send(data);
          if (pending.ended) endSocket(ws);
        },
      };
      pending.link = await ctx.sandboxes.openTerminal(
        scope,
        id,
        { cols, rows },
        {
          output: (data) => {
            if (socket) socket.send(data);
            else pending.early.push(Buffer.from(data));
          },
          closed: (reason) => {
            pending.ended = true;
            if (!socket) return;
            if (reason === "exited" || reason === "closed") endSocket(socket);
            else failSocket(socket, "host_unavailable", `the terminal ended: ${reason}`);
          },
        },
      );
      pendingTerminals.set(request, pending);
      // An upgrade that never completes must not leave the shell running.
      request.raw.socket.once("close", () => {
        if (!socket) void pending.link.close().catch(() => undefined);
      });
    },
    handler: async () => {
      throw new AppError("invalid_request", "open the terminal with a WebSocket upgrade (Upgrade: websocket)");
    },
    wsHandler: (socket, request) => {
      const pending = pendingTerminals.get(request);
      if (!pending) {
        failSocket(socket, "invalid_request", "terminal is only reachable through a WebSocket upgrade");
        return;
      }
      pendingTerminals.delete(request);
      const { link } = pending;
      // Keystrokes go one at a time so they reach the shell in the order typed.
      let queue = Promise.resolve();
      const run = (job: () => Promise<void>) => {
        queue = queue.then(job).catch((err: unknown) => {
          const code = isAppError(err) ? err.code : "internal";
          request.log.warn({ err }, "terminal command failed");
          failSocket(socket, code, err instanceof Error ? err.message : String(err));
        });
      };
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (isBinary) {
          for (let at = 0; at < data.length; at += terminalLimits.maxInputBytes) {
            const piece = data.subarray(at, at + terminalLimits.maxInputBytes);
            run(() => link.write(piece));
          }
          return;
        }
        const frame = ControlFrame.safeParse(parseJson(data.toString("utf8")));
        if (!frame.success) {
          failSocket(socket, "invalid_request", 'text frames must be {"type":"resize","cols":N,"rows":N} (1..1000)');
          return;
        }
        run(() => link.resize(frame.data.cols, frame.data.rows));
      });
      socket.on("close", () => {
        void queue.then(() => link.close()).catch(() => undefined);
      });
      pending.attach(socket);
    },
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function endSocket(socket: WebSocket): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(JSON.stringify({ type: "exit" }));
  socket.close(1000, "terminal ended");
}

function failSocket(socket: WebSocket, code: string, message: string): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(JSON.stringify({ type: "error", code, message }));
  socket.close(1011, code.slice(0, 100));
}
