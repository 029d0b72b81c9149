import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import { envelope, readEnvelopedRequest } from "./connect.js";
import { connectError, e2bError, notSupported } from "./errors.js";
import { guestPath, parseStat } from "./guest-fs.js";
import { keepaliveMs, shellCommand, startScript, timeoutMs } from "./process-service.js";
import { assertCreatable, leaseSeconds } from "./rest-routes.js";
import { imageForTemplate, templateForImage } from "./templates.js";

describe("E2B templates", () => {
  it("maps tiny and debian-12 to the fluid images of the same name, both ways", () => {
    expect([imageForTemplate("tiny"), imageForTemplate("debian-12")]).toEqual(["tiny", "debian-12"]);
    expect([templateForImage("tiny"), templateForImage("debian-12")]).toEqual(["tiny", "debian-12"]);
  });

  it("refuses an unknown template as not found, naming the templates served", () => {
    expect(() => imageForTemplate("base")).toThrow(
      /template 'base' not found; fluid serves the templates tiny, debian-12/,
    );
  });
});

describe("E2B error shapes", () => {
  it("answers REST errors as {code: status, message}", () => {
    expect(e2bError(new AppError("not_found", "sandbox x not found"))).toEqual({
      status: 404,
      body: { code: 404, message: "sandbox x not found" },
    });
  });

  it("hides the details of errors that are not AppErrors", () => {
    expect(e2bError(new Error("SELECT secret"))).toEqual({
      status: 500,
      body: { code: 500, message: "internal error" },
    });
    expect(connectError(new Error("SELECT secret"))).toEqual({ code: "internal", message: "internal error" });
  });

  it("answers unsupported features as 501 / Connect unimplemented with a clear message", () => {
    const err = notSupported("pty");
    expect(e2bError(err).status).toBe(501);
    expect(connectError(err)).toEqual({
      code: "unimplemented",
      message: "pty is not supported by fluid's E2B-compatible API",
    });
  });

  it("maps a conflict to already_exists, which the SDK's makeDir reads as 'existed'", () => {
    expect(connectError(new AppError("conflict", "exists")).code).toBe("already_exists");
  });
});

describe("E2B sandbox options", () => {
  it("gives fluid's one-minute minimum lease to shorter timeouts", () => {
    expect([leaseSeconds(10), leaseSeconds(300)]).toEqual([60, 300]);
  });

  it("refuses options fluid cannot honour by name instead of dropping them", () => {
    expect(() => assertCreatable({ templateID: "tiny", autoPause: true })).toThrow(/autoPause/);
    expect(() => assertCreatable({ templateID: "tiny", metadata: { a: "b" }, envVars: { A: "b" } })).not.toThrow();
  });
});

describe("envd processes as fluid commands", () => {
  it("runs the SDK's /bin/bash -l -c script as the script itself", () => {
    expect(shellCommand("/bin/bash", ["-l", "-c", "echo hi | wc -c"], undefined)).toEqual({
      command: "echo hi | wc -c",
      env: {},
    });
  });

  it("passes any other argv through the environment, never into the script text", () => {
    const { command, env } = shellCommand("/bin/echo", ["$(reboot)", "a b"], "/tmp");
    expect(command).not.toContain("reboot");
    expect(env).toEqual({ E2B_CWD: "/tmp", E2B_ARG_0: "/bin/echo", E2B_ARG_1: "$(reboot)", E2B_ARG_2: "a b" });
  });

  it("reads Connect-Timeout-Ms as a limit in milliseconds, none or 0 meaning no limit", () => {
    expect([timeoutMs("60000"), timeoutMs("0"), timeoutMs(undefined), timeoutMs("x")]).toEqual([
      60000,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("reads Keepalive-Ping-Interval as whole seconds, at most an hour, nothing sent without it", () => {
    expect([keepaliveMs("50"), keepaliveMs("99999"), keepaliveMs(undefined), keepaliveMs("1.5")]).toEqual([
      50_000,
      3_600_000,
      undefined,
      undefined,
    ]);
  });

  it("bounds a Connect timeout past a timer's range to the longest timer, not an immediate kill", () => {
    expect(timeoutMs(String(40 * 24 * 3600 * 1000))).toBe(2_147_483_647);
  });

  it("gives a command started without stdin an empty input, and one with stdin the FIFO", () => {
    expect(startScript("cat", false)).toBe("exec </dev/null\ncat");
    expect(startScript("cat", true)).toBe("cat");
  });
});

describe("guest paths and stat lines", () => {
  it("resolves relative paths against /root like envd resolves them against the home directory", () => {
    expect([guestPath("a/b.txt"), guestPath("/tmp/../etc/x")]).toEqual(["/root/a/b.txt", "/etc/x"]);
    expect(() => guestPath("")).toThrow(/path is required/);
  });

  it("parses a stat line whose name contains the separator", () => {
    expect(parseStat("regular file|12|81a4|-rw-r--r--|root|root|1700000000|/tmp/a|b")).toEqual({
      name: "a|b",
      type: "FILE_TYPE_FILE",
      path: "/tmp/a|b",
      size: "12",
      mode: 0o644,
      permissions: "-rw-r--r--",
      owner: "root",
      group: "root",
      modifiedTime: "2023-11-14T22:13:20.000Z",
    });
  });
});

describe("Connect envelopes", () => {
  it("reads back the message an envelope carries", () => {
    expect(readEnvelopedRequest(envelope(0, { process: { cmd: "ls" } }))).toEqual({ process: { cmd: "ls" } });
  });

  it("refuses a truncated envelope", () => {
    expect(() => readEnvelopedRequest(envelope(0, { a: 1 }).subarray(0, 7))).toThrow(/shorter than its length/);
  });
});
