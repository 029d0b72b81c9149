import { errorCodes } from "@fluid/proto";
import { describe, expect, it } from "vitest";
import { CliError, EXIT, exitCodeOf } from "./output.js";

describe("exitCodeOf", () => {
  it("gives every server code an exit status from the documented set", () => {
    const allowed = new Set<number>(Object.values(EXIT).filter((status) => status !== EXIT.ok));
    for (const code of errorCodes) expect(allowed.has(exitCodeOf(code)), code).toBe(true);
  });

  it("sorts failures into usage, auth, not-found and everything else", () => {
    expect(exitCodeOf("invalid_request")).toBe(EXIT.usage);
    expect(exitCodeOf("conflict")).toBe(EXIT.usage);
    expect(exitCodeOf("unauthenticated")).toBe(EXIT.auth);
    expect(exitCodeOf("command_refused")).toBe(EXIT.auth);
    expect(exitCodeOf("not_found")).toBe(EXIT.notFound);
    expect(exitCodeOf("host_error")).toBe(EXIT.failure);
    expect(exitCodeOf("unreachable")).toBe(EXIT.failure);
  });

  it("treats a code this CLI does not know (from a newer server) as a failure", () => {
    expect(exitCodeOf("some_future_code")).toBe(EXIT.failure);
    expect(exitCodeOf("toString")).toBe(EXIT.failure);
  });

  it("is where a CliError takes its exit status from", () => {
    expect(new CliError("bad flag").exitCode).toBe(EXIT.usage);
    expect(new CliError("no such sandbox", { code: "not_found" }).exitCode).toBe(EXIT.notFound);
    expect(new CliError("broken config", { code: "invalid_config" }).exitCode).toBe(EXIT.auth);
  });
});
