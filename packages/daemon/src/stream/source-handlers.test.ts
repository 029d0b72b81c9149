import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type ControlMessage, ControlMessageSchema } from "@fluid/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyAccess } from "../apply/access.js";
import type { SandboxError } from "../errors.js";
import { ImageStore } from "../images/store.js";
import { SourceError } from "../remote/source-error.js";
import { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { SshError } from "../remote/ssh-error.js";
import { SourceHosts } from "../sources/source-host.js";
import { PolicyRefusal, VmAccess } from "../sources/vm-access.js";
import { asSandboxError, handleSourceCommand, type SourceServices } from "./source-handlers.js";

const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const connection = { type: "libvirt", sshHost: "192.0.2.1", sshUser: "root", sshPrivateKey: key, sourceHostId: "h1" };

describe("source commands on the daemon", () => {
  let dir: string;
  let sources: SourceServices;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-source-handlers-"));
    // An ssh that does not exist: any command that got as far as connecting would fail `unreachable`.
    const hosts = new SourceHosts({
      stateDir: dir,
      images: new ImageStore(join(dir, "images")),
      ssh: { sshBinary: join(dir, "no-ssh") },
    });
    const ca = SshCertificateAuthority.generate();
    const access = new VmAccess({ ca, knownHostsFile: hosts.knownHostsFile });
    const execute = () => Promise.reject(new Error("ansible-playbook must not run in these tests"));
    sources = { hosts, access, apply: new ApplyAccess({ ca, access, execute }) };
  });

  afterAll(() => rm(dir, { recursive: true, force: true }));

  const command = (payload: ControlMessage["payload"]) => create(ControlMessageSchema, { requestId: "r1", payload });

  it("refuses a write at the daemon without connecting anywhere (code refused)", async () => {
    const refused = handleSourceCommand(
      sources,
      command({
        case: "runSourceCommand",
        value: { sourceVm: "web-1", command: "rm -rf /", timeoutSeconds: 5, sourceHostConnection: connection } as never,
      }),
    );
    await expect(refused).rejects.toMatchObject({ code: "command_refused", message: expect.stringContaining("rm") });
  });

  it("refuses to apply a playbook unless the command says the source host enables apply (code refused)", async () => {
    const apply = (c: Record<string, unknown>) =>
      handleSourceCommand(
        sources,
        command({
          case: "applyPlaybook",
          value: { sourceVm: "web-1", playbookYaml: "- hosts: all\n", sourceHostConnection: c } as never,
        }),
      );
    await expect(apply(connection)).rejects.toMatchObject({
      code: "command_refused",
      message: expect.stringContaining("not enabled for source host h1"),
    });
    await expect(apply({ ...connection, applyEnabled: false })).rejects.toMatchObject({ code: "command_refused" });
    // Enabled, it goes on to connect (and this test's ssh does not exist).
    await expect(apply({ ...connection, applyEnabled: true })).rejects.toMatchObject({ code: "host_error" });
  });

  it("refuses a sensitive file at the daemon (code refused)", async () => {
    const refused = handleSourceCommand(
      sources,
      command({
        case: "readSourceFile",
        value: { sourceVm: "web-1", path: "/etc/shadow", sourceHostConnection: connection } as never,
      }),
    );
    await expect(refused).rejects.toMatchObject({ code: "command_refused" });
  });

  it("says what is missing from the connection before trying it", async () => {
    const list = (c: Record<string, unknown> | undefined) =>
      handleSourceCommand(sources, command({ case: "listSourceVms", value: { sourceHostConnection: c } as never }));
    await expect(list(undefined)).rejects.toMatchObject({
      code: "invalid_request",
      message: "the command names no source host",
    });
    await expect(list({ ...connection, type: "proxmox" })).rejects.toMatchObject({
      message: "proxmox source hosts are not supported yet",
    });
    await expect(list({ ...connection, sshPrivateKey: "" })).rejects.toMatchObject({
      message: "the source host has no SSH key; register it with one",
    });
  });

  it("reports an unreachable source host as a host error naming it", async () => {
    const list = handleSourceCommand(
      sources,
      command({ case: "listSourceVms", value: { sourceHostConnection: connection } as never }),
    );
    await expect(list).rejects.toMatchObject({ code: "host_error" });
  });

  it("maps source failures to the codes the control plane knows", () => {
    const code = (err: unknown) => (asSandboxError(err) as SandboxError).code;
    expect(code(new PolicyRefusal("no"))).toBe("command_refused");
    expect(code(new SourceError("not_found", "x"))).toBe("not_found");
    expect(code(new SourceError("unsupported", "x"))).toBe("invalid_request");
    expect(code(new SourceError("invalid_state", "x"))).toBe("invalid_state");
    expect(code(new SourceError("commit_failed", "x"))).toBe("host_error");
    expect(code(new SshError("invalid_target", "x"))).toBe("invalid_request");
    expect(code(new SshError("auth_failed", "x"))).toBe("host_error");
  });
});
