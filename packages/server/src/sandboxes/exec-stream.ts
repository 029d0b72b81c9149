import type { FastifyReply } from "fastify";
import { z } from "zod";
import type { Command } from "../db/schema.js";
import { isAppError } from "../http/errors.js";
import type { RunListener } from "./commands.js";

/** One line of a streamed command's reply (application/x-ndjson). */
export const ExecStreamEventSchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("started"), command_id: z.uuid() }),
    z.object({
      type: z.literal("output"),
      stream: z.enum(["stdout", "stderr"]),
      data: z.string().describe("the bytes, base64: output is not necessarily UTF-8, nor cut at characters"),
    }),
    z.object({
      type: z.literal("exit"),
      command_id: z.uuid(),
      status: z.enum(["completed", "timed_out"]),
      exit_code: z.number().int().nullable(),
      duration_ms: z.number().int().nullable(),
      stdout_truncated: z.boolean(),
      stderr_truncated: z.boolean(),
      live: z
        .boolean()
        .describe(
          "false when the sandbox's host streams to another server replica: the output then came in one piece at the end",
        ),
    }),
    z.object({
      type: z.literal("error"),
      error: z.object({ code: z.string(), message: z.string() }),
    }),
  ])
  .meta({ id: "ExecStreamEvent" });

type ExecStreamEvent = z.infer<typeof ExecStreamEventSchema>;

/**
 * Writes a streamed command's events as newline-delimited JSON. The status line goes out with the
 * first event, so failures before the command starts are ordinary error replies; a client that
 * goes away only stops the writing (the command runs on to its end or timeout, and is recorded).
 */
export class ExecStreamWriter {
  private started = false;

  constructor(private readonly reply: FastifyReply) {}

  get listener(): RunListener {
    return {
      started: (commandId) => this.write({ type: "started", command_id: commandId }),
      output: (piece) =>
        this.write({ type: "output", stream: piece.stream, data: Buffer.from(piece.data).toString("base64") }),
    };
  }

  /** Whether the reply has begun (after which failures are an `error` event, not a status code). */
  get begun(): boolean {
    return this.started;
  }

  exit(command: Command & { live: boolean }): void {
    this.write({
      type: "exit",
      command_id: command.id,
      status: command.status === "timed_out" ? "timed_out" : "completed",
      exit_code: command.exit_code,
      duration_ms: command.duration_ms,
      stdout_truncated: command.stdout_truncated,
      stderr_truncated: command.stderr_truncated,
      live: command.live,
    });
    this.reply.raw.end();
  }

  fail(err: unknown): void {
    const error = isAppError(err)
      ? { code: err.code, message: err.message }
      : { code: "internal", message: "the command failed" };
    this.write({ type: "error", error });
    this.reply.raw.end();
  }

  private write(event: ExecStreamEvent): void {
    const raw = this.reply.raw;
    if (!this.started) {
      this.started = true;
      this.reply.hijack();
      raw.on("error", () => undefined);
      // Headers hooks set on the reply (CORS) are not sent by a hijacked reply unless passed on here.
      const set = Object.entries(this.reply.getHeaders()).filter(([, value]) => value !== undefined);
      raw.writeHead(200, {
        ...(Object.fromEntries(set) as Record<string, string | number | string[]>),
        "content-type": "application/x-ndjson",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      });
      raw.flushHeaders();
    }
    if (raw.destroyed || raw.writableEnded) return;
    raw.write(`${JSON.stringify(event)}\n`);
  }
}
