import { describe, expect, it } from "vitest";
import {
  ConflictError,
  errorFromResponse,
  FluidError,
  HostUnavailableError,
  InvalidRequestError,
  NoCapacityError,
  NotFoundError,
  PermissionError,
  parseRetryAfter,
  QuotaExceededError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
} from "./errors.js";

function failed(status: number, body: unknown, headers: Record<string, string> = {}) {
  return errorFromResponse(new Response(null, { status, statusText: "Whatever", headers }), body);
}

const body = (code: string, message = "nope") => ({ error: { code, message } });

describe("typed API errors", () => {
  it("chooses the class by the server's code and keeps code, status and message", () => {
    const err = failed(404, body("not_found", "sandbox not found"));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(FluidError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: "NotFoundError", status: 404, code: "not_found", message: "sandbox not found" });
  });

  it.each([
    ["invalid_request", 400, InvalidRequestError],
    ["payload_too_large", 413, InvalidRequestError],
    ["forbidden", 403, PermissionError],
    ["command_refused", 403, PermissionError],
    ["conflict", 409, ConflictError],
    ["invalid_state", 409, ConflictError],
    ["timeout", 504, TimeoutError],
    ["request_timeout", 408, TimeoutError],
    ["host_unavailable", 503, HostUnavailableError],
    ["no_capacity", 503, NoCapacityError],
    ["service_unavailable", 503, ServiceUnavailableError],
    ["quota_exceeded", 429, QuotaExceededError],
  ] as const)("%s is a %s", (code, status, type) => {
    expect(failed(status, body(code))).toBeInstanceOf(type);
  });

  it("leaves server-side failures as the base class", () => {
    const err = failed(502, body("host_error"));
    expect(err.constructor).toBe(FluidError);
    expect(err.code).toBe("host_error");
  });

  it("gives a rate-limited caller the Retry-After seconds", () => {
    const err = failed(429, body("rate_limited", "slow down"), { "retry-after": "17" });
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfter).toBe(17);
    expect((failed(429, body("rate_limited")) as RateLimitError).retryAfter).toBeUndefined();
  });

  it("tells a quota refusal from a rate limit although both are 429", () => {
    const err = failed(429, body("quota_exceeded", "live sandboxes: limit 2, in use 2, requested 1"));
    expect(err).toBeInstanceOf(QuotaExceededError);
    expect(err).not.toBeInstanceOf(RateLimitError);
    expect(failed(429, "<html>")).toBeInstanceOf(RateLimitError);
  });

  it("reads a response without our envelope by its status", () => {
    expect(failed(404, "<html>")).toMatchObject({ code: "not_found", message: "404 Whatever" });
    expect(failed(404, "<html>")).toBeInstanceOf(NotFoundError);
    expect(failed(500, undefined)).toMatchObject({ code: "internal" });
    expect(failed(418, undefined)).toMatchObject({ code: "invalid_request" });
    expect(failed(400, body("something_new", "x"))).toMatchObject({ code: "invalid_request", message: "x" });
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});
