import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { handleError } from "./error-handler.js";

function answer(err: Error) {
  const sent: { status?: number; headers: Record<string, string>; body?: unknown; logged: string[] } = {
    headers: {},
    logged: [],
  };
  const reply = {
    code(status: number) {
      sent.status = status;
      return reply;
    },
    header(name: string, value: string) {
      sent.headers[name] = value;
      return reply;
    },
    headers(values: Record<string, string> = {}) {
      Object.assign(sent.headers, values);
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const log = (level: string) => (_: unknown, message: string) => sent.logged.push(`${level}: ${message}`);
  const request = { log: { warn: log("warn"), error: log("error") } };
  handleError(err as FastifyError, request as unknown as FastifyRequest, reply as unknown as FastifyReply);
  return sent;
}

describe("handleError", () => {
  it("answers a database outage 503 service_unavailable with a retry hint, logged as a warning", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    expect(answer(refused)).toEqual({
      status: 503,
      headers: { "retry-after": "2" },
      body: { error: { code: "service_unavailable", message: "the service cannot reach its database; retry shortly" } },
      logged: ["warn: database unavailable"],
    });
  });

  it("keeps any other unexpected error a 500 whose details reach only the log", () => {
    expect(answer(new Error("secret detail"))).toMatchObject({
      status: 500,
      body: { error: { code: "internal", message: "internal error" } },
      logged: ["error: unhandled error"],
    });
  });
});
