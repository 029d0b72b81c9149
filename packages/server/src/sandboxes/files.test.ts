import { testDiff } from "@fluid/testkit";
import { describe, expect, it } from "vitest";
import { HostCommandError } from "../stream/errors.js";
import { GuestPath, WriteFileBody } from "./file-routes.js";
import { diffSandbox, listFiles, readFile, writeFile } from "./files.js";
import { sandboxLimits } from "./limits.js";
import { auditActions, rejection, seedMember, seedOrg, seedSandbox, useSandboxUnit } from "./sandbox-deps.fixtures.js";

describe("sandbox files", () => {
  const unit = useSandboxUnit("files");

  const bytes = (text: string) => new TextEncoder().encode(text);

  it("reads a file through the sandbox's host with the caller's byte limit, passing on truncation", async () => {
    unit.hosts.answer = () => ({ case: "fileContent", value: { content: bytes("abc"), truncated: true } });
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const file = await readFile(unit.deps, unit.scope, sandbox.id, "/etc/hosts", 3);
    expect({ text: new TextDecoder().decode(file.content), truncated: file.truncated }).toEqual({
      text: "abc",
      truncated: true,
    });
    expect(unit.hosts.commands("readFile")).toMatchObject([
      { sandboxId: sandbox.id, path: "/etc/hosts", maxBytes: 3n },
    ]);
  });

  it("writes a file, returns the size the host wrote and audits path, size and mode", async () => {
    unit.hosts.answer = () => ({ case: "fileWritten", value: { size: 5n } });
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const size = await writeFile(unit.deps, unit.scope, sandbox.id, {
      path: "/tmp/a",
      content: bytes("hello"),
      mode: 0o600,
    });
    expect(size).toBe(5);
    expect(unit.hosts.commands("writeFile")).toMatchObject([{ path: "/tmp/a", mode: 0o600 }]);
    expect(await auditActions(unit.database, sandbox.id)).toEqual(["sandbox.created", "sandbox.file_written"]);
  });

  it("audits no write the host refused, and hands on the host's error", async () => {
    unit.hosts.answer = () => new HostCommandError("invalid_request", "is a directory");
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const err = await rejection(writeFile(unit.deps, unit.scope, sandbox.id, { path: "/tmp", content: bytes("x") }));
    expect(err.code).toBe("invalid_request");
    expect(await auditActions(unit.database, sandbox.id)).toEqual(["sandbox.created"]);
  });

  it("lists a directory's entries as the host reports them", async () => {
    unit.hosts.answer = () => ({ case: "fileList", value: { entries: [{ name: "a", type: "file", size: 1n }] } });
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const entries = await listFiles(unit.deps, unit.scope, sandbox.id, "/");
    expect(entries.map((e) => e.name)).toEqual(["a"]);
  });

  it("refuses files in a sandbox that is not RUNNING with invalid_state, asking no host", async () => {
    const stopped = await seedSandbox(unit.deps, unit.scope, unit.hostId, "STOPPED");
    expect((await rejection(readFile(unit.deps, unit.scope, stopped.id, "/a", 1))).code).toBe("invalid_state");
    expect(
      (await rejection(writeFile(unit.deps, unit.scope, stopped.id, { path: "/a", content: bytes("") }))).code,
    ).toBe("invalid_state");
    expect((await rejection(listFiles(unit.deps, unit.scope, stopped.id, "/"))).code).toBe("invalid_state");
    expect(unit.hosts.sent).toEqual([]);
  });

  it("forbids a viewer from reading files, and a member from another member's sandbox", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const viewer = await seedMember(unit.database, unit.scope, "viewer");
    const member = await seedMember(unit.database, unit.scope, "member");
    expect((await rejection(readFile(unit.deps, viewer, sandbox.id, "/a", 1))).code).toBe("forbidden");
    expect((await rejection(readFile(unit.deps, member, sandbox.id, "/a", 1))).code).toBe("forbidden");
    expect(unit.hosts.sent).toEqual([]);
  });

  it("answers not_found for another org's sandbox id", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const other = await seedOrg(unit.database, `${unit.scope.slug}-other`);
    expect((await rejection(readFile(unit.deps, other, sandbox.id, "/a", 1))).code).toBe("not_found");
    expect(
      (await rejection(diffSandbox(unit.deps, other, sandbox.id, { noise: undefined, withPlaybook: false }))).code,
    ).toBe("not_found");
  });

  it("diffs a STOPPED sandbox, sending the noise override as JSON and asking for the playbook", async () => {
    const diff = testDiff();
    const diffJson = new TextEncoder().encode(JSON.stringify(diff));
    unit.hosts.answer = () => ({
      case: "sandboxDiff",
      value: { diffJson, hash: diff.hash, playbookYaml: "- hosts: all\n" },
    });
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "STOPPED");
    const noise = { disable: ["logs"] };
    const reviewed = await diffSandbox(unit.deps, unit.scope, sandbox.id, { noise, withPlaybook: true });
    expect({ hash: reviewed.diff.hash, playbook: reviewed.playbookYaml }).toEqual({
      hash: diff.hash,
      playbook: "- hosts: all\n",
    });
    const [sent] = unit.hosts.commands("diffSandbox");
    expect(sent?.withPlaybook).toBe(true);
    expect(JSON.parse(sent?.noiseOverrideJson ?? "")).toEqual(noise);
  });

  it("answers a diff whose hash does not match its content as a protocol error", async () => {
    const diffJson = new TextEncoder().encode(JSON.stringify(testDiff()));
    unit.hosts.answer = () => ({ case: "sandboxDiff", value: { diffJson, hash: "b".repeat(64) } });
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const err = await rejection(
      diffSandbox(unit.deps, unit.scope, sandbox.id, { noise: undefined, withPlaybook: false }),
    );
    expect(err.message).toContain("hash does not match");
  });

  it("refuses relative, NUL-bearing and over-long paths and oversized content before asking the host", async () => {
    const sandbox = await seedSandbox(unit.deps, unit.scope, unit.hostId, "RUNNING");
    const tooLong = `/${"é".repeat(sandboxLimits.maxGuestPathBytes / 2)}`;
    const refusals = [
      await rejection(readFile(unit.deps, unit.scope, sandbox.id, "etc/hosts", 10)),
      await rejection(readFile(unit.deps, unit.scope, sandbox.id, "/etc/hosts", sandboxLimits.maxFileBytes + 1)),
      await rejection(listFiles(unit.deps, unit.scope, sandbox.id, "/a\u0000b")),
      await rejection(writeFile(unit.deps, unit.scope, sandbox.id, { path: tooLong, content: bytes("x") })),
      await rejection(
        writeFile(unit.deps, unit.scope, sandbox.id, {
          path: "/tmp/big",
          content: new Uint8Array(sandboxLimits.maxFileBytes + 1),
        }),
      ),
    ];
    expect(refusals.map((err) => err.code)).toEqual(Array(5).fill("invalid_request"));
    expect(
      unit.hosts.commands("readFile").length +
        unit.hosts.commands("listFiles").length +
        unit.hosts.commands("writeFile").length,
    ).toBe(0);
  });

  it("takes only absolute guest paths of at most 4096 bytes", () => {
    expect(GuestPath.safeParse("/etc/hosts").success).toBe(true);
    expect(GuestPath.safeParse("etc/hosts").success).toBe(false);
    expect(GuestPath.safeParse("").success).toBe(false);
    expect(GuestPath.safeParse(`/${"a".repeat(4096)}`).success).toBe(false);
    expect(GuestPath.safeParse("/a\u0000b").success).toBe(false);
    expect(GuestPath.safeParse(`/${"é".repeat(2048)}`).success).toBe(false);
  });

  it("takes a written file of at most the file size limit once decoded, and octal modes only", () => {
    const body = (size: number, mode?: string) => ({
      path: "/f",
      content_base64: Buffer.alloc(size).toString("base64"),
      ...(mode ? { mode } : {}),
    });
    expect(WriteFileBody.safeParse(body(sandboxLimits.maxFileBytes)).success).toBe(true);
    const over = WriteFileBody.safeParse(body(sandboxLimits.maxFileBytes + 1));
    expect(over.error?.issues[0]?.message).toBe(`must decode to at most ${sandboxLimits.maxFileBytes} bytes`);
    expect(WriteFileBody.safeParse(body(1, "0644")).success).toBe(true);
    expect(WriteFileBody.safeParse(body(1, "rw-r--r--")).success).toBe(false);
  });
});
