import type { FastifyReply } from "fastify";
import { z } from "zod";
import type { Command } from "../db/schema.js";
import { isAppError } from "../http/errors.js";
import { NdjsonReply } from "../http/ndjson.js";
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
  private readonly out: NdjsonReply<ExecStreamEvent>;

  constructor(reply: FastifyReply) {
    this.out = new NdjsonReply(reply);
  }

  get listener(): RunListener {
    return {
      started: (commandId) => this.out.write({ type: "started", command_id: commandId }),
      output: (piece) =>
        this.out.write({ type: "output", stream: piece.stream, data: Buffer.from(piece.data).toString("base64") }),
    };
  }

  /** Whether the reply has begun (after which failures are an `error` event, not a status code). */
  get begun(): boolean {
    return this.out.begun;
  }

  exit(command: Command & { live: boolean }): void {
    this.out.write({
      type: "exit",
      command_id: command.id,
      status: command.status === "timed_out" ? "timed_out" : "completed",
      exit_code: command.exit_code,
      duration_ms: command.duration_ms,
      stdout_truncated: command.stdout_truncated,
      stderr_truncated: command.stderr_truncated,
      live: command.live,
    });
    this.out.end();
  }

  fail(err: unknown): void {
    const error = isAppError(err)
      ? { code: err.code, message: err.message }
      : { code: "internal", message: "the command failed" };
    this.out.write({ type: "error", error });
    this.out.end();
  }
}
