import { describe, expect, it } from "vitest";
import { decodeHostCode, errorCodes, errorStatus, hostErrorCodes, isErrorCode } from "./errors.js";

describe("the error contract", () => {
  it("gives every code a client or server error status", () => {
    for (const code of errorCodes) expect(errorStatus[code]).toBeGreaterThanOrEqual(400);
    expect(errorStatus.host_error).toBe(502);
    expect(errorStatus.command_refused).toBe(403);
    expect(errorStatus.quota_exceeded).toBe(429);
  });

  it("knows its own codes and nothing else", () => {
    expect(isErrorCode("not_found")).toBe(true);
    expect(isErrorCode("invalid_argument")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
    expect(isErrorCode(404)).toBe(false);
  });

  it("reads the host codes as they are", () => {
    for (const code of hostErrorCodes) expect(decodeHostCode(code)).toBe(code);
  });

  it("reads the names older daemons send as the shared codes", () => {
    expect(decodeHostCode("invalid_argument")).toBe("invalid_request");
    expect(decodeHostCode("unavailable")).toBe("host_unavailable");
    expect(decodeHostCode("refused")).toBe("command_refused");
  });

  it("reads anything else from a host, even a public code a host may not send, as host_error", () => {
    expect(decodeHostCode("")).toBe("host_error");
    expect(decodeHostCode("disk_on_fire")).toBe("host_error");
    expect(decodeHostCode("forbidden")).toBe("host_error");
    expect(decodeHostCode("constructor")).toBe("host_error");
  });
});
