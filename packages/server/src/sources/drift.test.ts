import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import { checkDrift } from "./drift.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const scope = {} as OrgScope;

/**
 * A source VM's files as the read-only access sees them, answering the two command lines the drift
 * check sends, and refusing (as the policy does) any command naming /etc/shadow.
 */
function fakeRelay(files: Record<string, string | { type: string } | { unreadable: true }>) {
  const commands: string[] = [];
  const run = async (_scope: OrgScope, _host: string, _vm: string, command: string) => {
    commands.push(command);
    if (command.includes("/etc/shadow")) throw new AppError("command_refused", "/etc/shadow is not readable");
    const paths = [...command.matchAll(/'([^']*)'/g)].map((m) => m[1] as string);
    const lines = paths.flatMap((path) => {
      const file = files[path];
      if (command.startsWith("sha256sum")) return typeof file === "string" ? [`${sha(file)}  ${path}`] : [];
      if (file === undefined) return [];
      return [`${typeof file === "string" || "unreadable" in file ? "regular file" : file.type}:${path}`];
    });
    return { sourceVm: "web-1", exitCode: 1, stdout: `${lines.join("\n")}\n`, stderr: "" };
  };
  return { relay: { run } as never, commands };
}

describe("checkDrift", () => {
  it("reports only the files that differ: changed content, a file that appeared, one that went away", async () => {
    const { relay, commands } = fakeRelay({ "/etc/a.conf": "a2\n", "/etc/new": "x", "/etc/same": "s" });
    const drift = await checkDrift(relay, scope, "h1", "web-1", [
      { path: "/etc/a.conf", sha256: sha("a1\n") },
      { path: "/etc/same", sha256: sha("s") },
      { path: "/etc/new", sha256: "absent" },
      { path: "/etc/gone", sha256: sha("g") },
      { path: "/etc/still-absent", sha256: "absent" },
    ]);
    expect(drift).toEqual([
      { path: "/etc/a.conf", expected: sha("a1\n"), actual: sha("a2\n") },
      { path: "/etc/new", expected: "absent", actual: sha("x") },
      { path: "/etc/gone", expected: sha("g"), actual: "absent" },
    ]);
    // Read-only commands only: one sha256sum for all, one stat for what it could not hash.
    expect(commands).toEqual([
      "sha256sum -- '/etc/a.conf' '/etc/same' '/etc/new' '/etc/gone' '/etc/still-absent'",
      "stat -c %F:%n -- '/etc/gone' '/etc/still-absent'",
    ]);
  });

  it("a directory where a file was expected, or a file fluid may not read, counts as drift", async () => {
    const { relay } = fakeRelay({ "/etc/d": { type: "directory" }, "/root/secret": { unreadable: true } });
    const drift = await checkDrift(relay, scope, "h1", "web-1", [
      { path: "/etc/d", sha256: sha("d") },
      { path: "/root/secret", sha256: sha("s") },
      { path: "/etc/shadow", sha256: sha("x") },
    ]);
    expect(drift).toEqual([
      { path: "/etc/d", expected: sha("d"), actual: "not a regular file (directory)" },
      { path: "/root/secret", expected: sha("s"), actual: "unreadable (permission denied)" },
      { path: "/etc/shadow", expected: sha("x"), actual: "unreadable (/etc/shadow is not readable)" },
    ]);
  });

  it("refuses a relative path or an expected state that is neither a sha256 nor absent", async () => {
    const { relay, commands } = fakeRelay({});
    await expect(checkDrift(relay, scope, "h1", "web-1", [{ path: "etc/x", sha256: "absent" }])).rejects.toThrow(
      /unusable path/,
    );
    await expect(checkDrift(relay, scope, "h1", "web-1", [{ path: "/etc/x", sha256: "abc" }])).rejects.toThrow(
      /sha256/,
    );
    expect(commands).toEqual([]);
  });
});
