import { describe, expect, it } from "vitest";
import { checkReadablePath, isReadablePath, pathCandidates } from "./paths.js";
import { globToRegex } from "./rules.js";

describe("checkReadablePath", () => {
  it("allows ordinary absolute paths and normalises them", () => {
    expect(checkReadablePath("/etc//nginx/./nginx.conf")).toEqual({ readable: true, path: "/etc/nginx/nginx.conf" });
    expect(isReadablePath("/var/log/syslog")).toBe(true);
    expect(isReadablePath("/dev/null")).toBe(true);
    expect(isReadablePath("/etc/ssl/certs/ISRG_Root_X1.pem")).toBe(true);
    expect(isReadablePath("/home/alice/.ssh/id_ed25519.pub")).toBe(true);
    expect(isReadablePath("/")).toBe(true);
  });

  it.each([
    ["etc/passwd", "relative paths are not allowed"],
    ["", "the path is empty"],
    ["/etc/../etc/shadow", "'..' is not allowed"],
    ["/etc/pass\0wd", "NUL"],
    ["/etc/pass\nwd", "control characters"],
    ["/etc/shadow", "password hashes"],
    ["/etc/gshadow", "password hashes"],
    ["/etc/sudoers", "sudo configuration"],
    ["/etc/sudoers.d/90-cloud-init-users", "sudo configuration"],
    ["/root/.ssh/authorized_keys", "root's SSH keys"],
    ["/home/alice/.ssh/id_rsa", "SSH private key"],
    ["/srv/www/.ssh/id_ecdsa", "SSH private key"],
    ["/etc/ssh/ssh_host_ed25519_key", "SSH host private key"],
    ["/etc/ssl/private/server.key", "TLS private keys"],
    ["/opt/app/certs/server.pem", "private key"],
    ["/opt/app/server.key", "private key"],
    ["/proc/1234/environ", "process environments"],
    ["/proc/self/task/1/environ", "process environments"],
    ["/proc/kcore", "kernel memory"],
    ["/proc/1/mem", "process memory"],
    ["/proc/1/root/etc/shadow", "bypass the path policy"],
    ["/proc/self/cwd", "bypass the path policy"],
    ["/proc/self/fd/3", "bypass the path policy"],
    ["/dev/sda", "device files"],
    ["/dev/disk/by-id/x", "device files"],
    ["/sys/firmware/efi/efivars/x", "firmware"],
    ["/home/bob/.bash_history", "shell history"],
    ["/root/.docker/config.json", "credentials file"],
  ])("refuses %s", (path, reason) => {
    const decision = checkReadablePath(path);
    expect(decision.readable).toBe(false);
    if (!decision.readable) expect(decision.reason).toContain(reason);
  });
});

describe("path candidates and globs", () => {
  it("finds values in options and clusters", () => {
    expect(pathCandidates("--file=/etc/shadow")).toContain("/etc/shadow");
    expect(pathCandidates("-xf/etc/shadow")).toContain("/etc/shadow");
    expect(pathCandidates("var=/etc/shadow")).toContain("/etc/shadow");
    expect(pathCandidates("/etc/hosts")).toEqual(["/etc/hosts"]);
  });

  it("compiles globs to anchored regular expressions", () => {
    expect(globToRegex("/proc/*/environ")).toBe("^/proc/[^/]*/environ$");
    expect(globToRegex("**/*.pem")).toBe("^.*/[^/]*\\.pem$");
    expect(globToRegex("/etc/shadow-")).toBe("^/etc/shadow-$");
  });
});
