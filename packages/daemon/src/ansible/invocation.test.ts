import { describe, expect, it } from "vitest";
import { inventoryFor, knownHostsFor, playbookArgv, playbookEnv, runFiles } from "./invocation.js";

const files = runFiles("/tmp/fluid-ansible-abc123");
const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNvbXBsZXRlbHlmYWtlaG9zdGtleWZvcnRlc3Rpbmc= root@sandbox\n";

describe("ansible-playbook invocation", () => {
  it("runs as root with the run's key and python3, and adds --check --diff only in check mode", () => {
    const argv = playbookArgv(files, { check: false });
    expect(argv).toEqual([
      "ansible-playbook",
      "-i",
      "/tmp/fluid-ansible-abc123/inventory",
      "-u",
      "root",
      "--private-key",
      "/tmp/fluid-ansible-abc123/id_ed25519",
      "-e",
      "ansible_python_interpreter=/usr/bin/python3",
      "/tmp/fluid-ansible-abc123/playbook.yml",
    ]);
    expect(playbookArgv(files, { check: true }).slice(-3)).toEqual([
      "--check",
      "--diff",
      "/tmp/fluid-ansible-abc123/playbook.yml",
    ]);
  });

  it("gives ansible only its own settings and PATH, never the daemon's environment", () => {
    const env = playbookEnv(files, "/usr/bin:/bin");
    expect(Object.keys(env).filter((name) => !name.startsWith("ANSIBLE_"))).toEqual(["PATH", "HOME", "LANG"]);
    expect(env).toMatchObject({
      PATH: "/usr/bin:/bin",
      HOME: "/tmp/fluid-ansible-abc123/home",
      ANSIBLE_CONFIG: "/tmp/fluid-ansible-abc123/ansible.cfg",
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_RETRY_FILES_ENABLED: "0",
      ANSIBLE_HOST_KEY_CHECKING: "True",
      ANSIBLE_PIPELINING: "True",
      ANSIBLE_LOCAL_TEMP: "/tmp/fluid-ansible-abc123/home/tmp",
      ANSIBLE_SSH_CONTROL_PATH_DIR: "/tmp/fluid-ansible-abc123/cp",
    });
  });

  it("authenticates with the certificate and checks the host key against the pinned one only", () => {
    const sshArgs = playbookEnv(files, undefined).ANSIBLE_SSH_ARGS;
    expect(sshArgs).toContain("-o CertificateFile=/tmp/fluid-ansible-abc123/id_ed25519-cert.pub");
    expect(sshArgs).toContain("-o UserKnownHostsFile=/tmp/fluid-ansible-abc123/known_hosts");
    expect(sshArgs).toContain("-o GlobalKnownHostsFile=/dev/null");
    expect(sshArgs).toContain("-o StrictHostKeyChecking=yes");
    expect(sshArgs).toContain("-o BatchMode=yes");
  });

  it("refuses a run directory whose path ansible would split", () => {
    expect(() => runFiles("/tmp/fluid ansible")).toThrow(/whitespace/);
  });

  it("writes the sandbox's address as the inventory and refuses anything else", () => {
    expect(inventoryFor("10.93.71.2")).toBe("10.93.71.2\n");
    expect(() => inventoryFor("10.93.71.2 ansible_connection=local")).toThrow(/invalid sandbox address/);
    expect(() => inventoryFor("")).toThrow(/invalid sandbox address/);
  });

  it("pins the guest's ed25519 host key for the sandbox's address, without its comment", () => {
    expect(knownHostsFor("10.93.71.2", hostKey)).toBe(
      "10.93.71.2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNvbXBsZXRlbHlmYWtlaG9zdGtleWZvcnRlc3Rpbmc=\n",
    );
    expect(() => knownHostsFor("10.93.71.2", "ssh-rsa AAAAB3Nza")).toThrow(/malformed/);
    expect(() => knownHostsFor("10.93.71.2", "ssh-ed25519 AAAA\n10.0.0.9 ssh-ed25519 BBBB")).toThrow(/malformed/);
  });
});
