import { create } from "@bufbuild/protobuf";
import { HostMessageSchema, RunCommandCommandSchema } from "@fluid/proto";
import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import { CommandTimeoutError, HostCommandError, StreamClosedError } from "../stream/errors.js";
import { decodeCommand, decodeFailure, decodeReply, encodeCommand, encodeFailure, encodeReply } from "./codec.js";

describe("host command codec", () => {
  it("a command and a reply survive the bytes they are stored as", () => {
    const command = {
      case: "runCommand" as const,
      value: create(RunCommandCommandSchema, { sandboxId: "sb", command: "echo é", env: { A: "1" } }),
    };
    expect(decodeCommand(encodeCommand(command))).toEqual(command);
    const reply = create(HostMessageSchema, {
      requestId: "r1",
      payload: { case: "commandResult", value: { sandboxId: "sb", stdout: "é\n", exitCode: 3, durationMs: 9n } },
    });
    expect(decodeReply(encodeReply(reply))).toEqual(reply);
  });

  it("stored bytes without a sendable command are refused", () => {
    expect(() => decodeCommand(new Uint8Array())).toThrow("no sendable payload (empty)");
  });

  it("each failure comes back as the error a local request would have thrown", () => {
    const roundTrip = (err: unknown) => decodeFailure(encodeFailure(err), "runCommand", 5_000);
    expect(roundTrip(new HostCommandError("not_found", "gone"))).toMatchObject({
      name: "HostCommandError",
      hostCode: "not_found",
      message: "gone",
    });
    const closed = roundTrip(new StreamClosedError("host_replaced"));
    expect(closed).toBeInstanceOf(StreamClosedError);
    expect(closed).toMatchObject({ reason: "host_replaced" });
    const timeout = roundTrip(new CommandTimeoutError("runCommand", 5_000));
    expect(timeout).toBeInstanceOf(CommandTimeoutError);
    expect(timeout.message).toBe("host did not answer runCommand within 5s");
    expect(roundTrip(new AppError("host_unavailable", "busy"))).toMatchObject({
      code: "host_unavailable",
      message: "busy",
    });
  });

  it("an unexpected error is stored without its message and read back as internal", () => {
    expect(encodeFailure(new Error("secret detail"))).toEqual({
      code: "app:internal",
      message: "the owning replica failed to send the command",
    });
    expect(decodeFailure({ code: "app:no_such_code", message: "m" }, "x", 1)).toMatchObject({ code: "internal" });
    expect(decodeFailure({ code: "closed:bogus", message: "m" }, "x", 1)).toMatchObject({ code: "internal" });
  });
});
