import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import { CommandTimeoutError, HostCommandError, StreamClosedError, toAppError } from "./errors.js";

describe("toAppError", () => {
  it("keeps a host's shared code and its status", () => {
    const err = toAppError(new HostCommandError("command_refused", "policy says no"), "run");
    expect(err).toMatchObject({ code: "command_refused", status: 403 });
    expect(err.message).toBe("run failed on the host: policy says no");
  });

  it("reads the codes older daemons send as the shared ones", () => {
    expect(toAppError(new HostCommandError("invalid_argument", "x"), "create")).toMatchObject({
      code: "invalid_request",
      status: 400,
    });
    expect(toAppError(new HostCommandError("unavailable", "x"), "create").code).toBe("host_unavailable");
    expect(toAppError(new HostCommandError("refused", "x"), "create").code).toBe("command_refused");
  });

  it("answers 502 host_error for anything else a host reports", () => {
    const err = toAppError(new HostCommandError("protocol_error", "garbled"), "snapshot");
    expect(err).toMatchObject({ code: "host_error", status: 502 });
  });

  it("maps a closed stream, a timeout and an unknown failure", () => {
    expect(toAppError(new StreamClosedError("host_disconnected"), "stop")).toMatchObject({
      code: "host_unavailable",
      status: 503,
    });
    expect(toAppError(new CommandTimeoutError("stop", 2000), "stop")).toMatchObject({ code: "timeout", status: 504 });
    expect(toAppError(new Error("boom"), "stop")).toMatchObject({
      code: "internal",
      status: 500,
      message: "stop failed",
    });
  });

  it("passes an AppError through", () => {
    const original = new AppError("conflict", "taken");
    expect(toAppError(original, "create")).toBe(original);
  });
});
