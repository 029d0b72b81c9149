import { testDiff } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/database.js";
import type { OrgScope } from "../orgs/access.js";
import { HostCommandError } from "../stream/errors.js";
import { GuestPath, WriteFileBody } from "./file-routes.js";
import { diffSandbox, listFiles, readFile, writeFile } from "./files.js";
import { sandboxLimits } from "./limits.js";
import {
  auditActions,
  openUnitDatabase,
  rejection,
  ScriptedHosts,
  sandboxDeps,
  seedHost,
  seedMember,
  seedOrg,
  seedSandbox,
} from "./sandbox-deps.fixtures.js";

describe("sandbox files", () => {
  let database: Database;
  let hosts: ScriptedHosts;
  let deps: ReturnType<typeof sandboxDeps>;
  let scope: OrgScope;
  let hostId: string;
  let orgs = 0;

  beforeAll(async () => {
    database = await openUnitDatabase();
  });

  afterAll(async () => {
    await database?.close();
  });

  beforeEach(async () => {
    hosts = new ScriptedHosts();
    deps = sandboxDeps(database, hosts);
    scope = await seedOrg(database, `files-${++orgs}`);
    hostId = await seedHost(database, hosts, scope);
  });

  const bytes = (text: string) => new TextEncoder().encode(text);

  it("reads a file through the sandbox's host with the caller's byte limit, passing on truncation", async () => {
    hosts.answer = () => ({ case: "fileContent", value: { content: bytes("abc"), truncated: true } });
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const file = await readFile(deps, scope, sandbox.id, "/etc/hosts", 3);
    expect({ text: new TextDecoder().decode(file.content), truncated: file.truncated }).toEqual({
      text: "abc",
      truncated: true,
    });
    expect(hosts.commands("readFile")).toMatchObject([{ sandboxId: sandbox.id, path: "/etc/hosts", maxBytes: 3n }]);
  });

  it("writes a file, returns the size the host wrote and audits path, size and mode", async () => {
    hosts.answer = () => ({ case: "fileWritten", value: { size: 5n } });
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const size = await writeFile(deps, scope, sandbox.id, { path: "/tmp/a", content: bytes("hello"), mode: 0o600 });
    expect(size).toBe(5);
    expect(hosts.commands("writeFile")).toMatchObject([{ path: "/tmp/a", mode: 0o600 }]);
    expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created", "sandbox.file_written"]);
  });

  it("audits no write the host refused, and hands on the host's error", async () => {
    hosts.answer = () => new HostCommandError("invalid_request", "is a directory");
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const err = await rejection(writeFile(deps, scope, sandbox.id, { path: "/tmp", content: bytes("x") }));
    expect(err.code).toBe("invalid_request");
    expect(await auditActions(database, sandbox.id)).toEqual(["sandbox.created"]);
  });

  it("lists a directory's entries as the host reports them", async () => {
    hosts.answer = () => ({ case: "fileList", value: { entries: [{ name: "a", type: "file", size: 1n }] } });
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const entries = await listFiles(deps, scope, sandbox.id, "/");
    expect(entries.map((e) => e.name)).toEqual(["a"]);
  });

  it("refuses files in a sandbox that is not RUNNING with invalid_state, asking no host", async () => {
    const stopped = await seedSandbox(deps, scope, hostId, "STOPPED");
    expect((await rejection(readFile(deps, scope, stopped.id, "/a", 1))).code).toBe("invalid_state");
    expect((await rejection(writeFile(deps, scope, stopped.id, { path: "/a", content: bytes("") }))).code).toBe(
      "invalid_state",
    );
    expect((await rejection(listFiles(deps, scope, stopped.id, "/"))).code).toBe("invalid_state");
    expect(hosts.sent).toEqual([]);
  });

  it("forbids a viewer from reading files, and a member from another member's sandbox", async () => {
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const viewer = await seedMember(database, scope, "viewer");
    const member = await seedMember(database, scope, "member");
    expect((await rejection(readFile(deps, viewer, sandbox.id, "/a", 1))).code).toBe("forbidden");
    expect((await rejection(readFile(deps, member, sandbox.id, "/a", 1))).code).toBe("forbidden");
    expect(hosts.sent).toEqual([]);
  });

  it("answers not_found for another org's sandbox id", async () => {
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const other = await seedOrg(database, `files-other-${orgs}`);
    expect((await rejection(readFile(deps, other, sandbox.id, "/a", 1))).code).toBe("not_found");
    expect(
      (await rejection(diffSandbox(deps, other, sandbox.id, { noise: undefined, withPlaybook: false }))).code,
    ).toBe("not_found");
  });

  it("diffs a STOPPED sandbox, sending the noise override as JSON and asking for the playbook", async () => {
    const diff = testDiff();
    const diffJson = new TextEncoder().encode(JSON.stringify(diff));
    hosts.answer = () => ({
      case: "sandboxDiff",
      value: { diffJson, hash: diff.hash, playbookYaml: "- hosts: all\n" },
    });
    const sandbox = await seedSandbox(deps, scope, hostId, "STOPPED");
    const noise = { disable: ["logs"] };
    const reviewed = await diffSandbox(deps, scope, sandbox.id, { noise, withPlaybook: true });
    expect({ hash: reviewed.diff.hash, playbook: reviewed.playbookYaml }).toEqual({
      hash: diff.hash,
      playbook: "- hosts: all\n",
    });
    const [sent] = hosts.commands("diffSandbox");
    expect(sent?.withPlaybook).toBe(true);
    expect(JSON.parse(sent?.noiseOverrideJson ?? "")).toEqual(noise);
  });

  it("answers a diff whose hash does not match its content as a protocol error", async () => {
    const diffJson = new TextEncoder().encode(JSON.stringify(testDiff()));
    hosts.answer = () => ({ case: "sandboxDiff", value: { diffJson, hash: "b".repeat(64) } });
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const err = await rejection(diffSandbox(deps, scope, sandbox.id, { noise: undefined, withPlaybook: false }));
    expect(err.message).toContain("hash does not match");
  });

  it("refuses relative, NUL-bearing and over-long paths and oversized content before asking the host", async () => {
    const sandbox = await seedSandbox(deps, scope, hostId, "RUNNING");
    const tooLong = `/${"é".repeat(sandboxLimits.maxGuestPathBytes / 2)}`;
    const refusals = [
      await rejection(readFile(deps, scope, sandbox.id, "etc/hosts", 10)),
      await rejection(readFile(deps, scope, sandbox.id, "/etc/hosts", sandboxLimits.maxFileBytes + 1)),
      await rejection(listFiles(deps, scope, sandbox.id, "/a\u0000b")),
      await rejection(writeFile(deps, scope, sandbox.id, { path: tooLong, content: bytes("x") })),
      await rejection(
        writeFile(deps, scope, sandbox.id, {
          path: "/tmp/big",
          content: new Uint8Array(sandboxLimits.maxFileBytes + 1),
        }),
      ),
    ];
    expect(refusals.map((err) => err.code)).toEqual(Array(5).fill("invalid_request"));
    expect(
      hosts.commands("readFile").length + hosts.commands("listFiles").length + hosts.commands("writeFile").length,
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
