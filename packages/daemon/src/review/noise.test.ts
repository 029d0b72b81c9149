import { describe, expect, it } from "vitest";
import { globRegExp, NoisePolicy, noiseRules } from "./noise.js";

describe("noise policy", () => {
  it("keeps * within one path segment and lets ** span segments", () => {
    expect(globRegExp("/etc/ssh/ssh_host_*").test("/etc/ssh/ssh_host_rsa_key")).toBe(true);
    expect(globRegExp("/etc/*").test("/etc/ssh/sshd_config")).toBe(false);
    expect(globRegExp("**/__pycache__/**").test("/opt/app/pkg/__pycache__/m.cpython-311.pyc")).toBe(true);
    expect(globRegExp("/var/log/**").test("/var/log")).toBe(true);
    expect(globRegExp("/{root,home/*}/.bash_history").test("/home/alice/.bash_history")).toBe(true);
  });

  it("ignores shell history and the identity fluid resets by default", () => {
    const policy = new NoisePolicy(noiseRules());
    expect(policy.ignores("file", "/root/.bash_history")).toBe(true);
    expect(policy.ignores("file", "/etc/machine-id")).toBe(true);
    expect(policy.ignores("file", "/etc/nginx/nginx.conf")).toBe(false);
  });

  it("ignores what booting systemd leaves on the disk, and not the units it enables", () => {
    const policy = new NoisePolicy(noiseRules());
    for (const path of [
      "/var/log/journal/0123456789abcdef0123456789abcdef/system.journal",
      "/var/lib/systemd/random-seed",
      "/var/lib/systemd/timers/stamp-e2scrub_all.timer",
      "/etc/.updated",
      "/var/.updated",
    ])
      expect(policy.ignores("file", path), path).toBe(true);
    expect(policy.ignores("file", "/etc/systemd/system/multi-user.target.wants/nginx.service")).toBe(false);
    expect(policy.ignores("unit", "nginx.service")).toBe(false);
  });

  it("ignores fluid's own sshd on both address families, and no other port", () => {
    const policy = new NoisePolicy(noiseRules());
    expect(policy.ignores("port", "tcp/22")).toBe(true);
    expect(policy.ignores("port", "tcp6/22")).toBe(true);
    expect(policy.ignores("port", "tcp/2222")).toBe(false);
    expect(policy.ignores("port", "tcp/127.0.0.1:22")).toBe(false);
  });

  it("ignores what fluid's SSH access and an ansible run leave in a guest (as observed on debian-12)", () => {
    const policy = new NoisePolicy(noiseRules());
    for (const path of [
      "/etc/ssh/fluid_ca.pub",
      "/etc/ssh/fluid_principals",
      "/etc/ssh/fluid_principals/root",
      "/etc/ssh/sshd_config.d/fluid.conf",
      "/root/.ansible",
      "/root/.ansible/tmp",
      "/root/.ansible/tmp/ansible-tmp-1796312942.260631-18271-35555666749615",
    ])
      expect(policy.ignores("file", path), path).toBe(true);
    expect(policy.ignores("file", "/etc/ssh/sshd_config.d/hardening.conf")).toBe(false);
  });

  it("lets a request disable a default rule and add its own", () => {
    const policy = new NoisePolicy(
      noiseRules({
        disable: ["hosts"],
        add: [{ id: "app-state", kind: "file", match: "/srv/app/state/**", effect: "ignore", reason: "" }],
      }),
    );
    expect(policy.ignores("file", "/etc/hosts")).toBe(false);
    expect(policy.ignores("file", "/srv/app/state/db")).toBe(true);
  });

  it("lets a request replace the whole policy", () => {
    const policy = new NoisePolicy(noiseRules({ replace: [] }));
    expect(policy.ignores("file", "/root/.bash_history")).toBe(false);
  });

  it("redacts secrets rather than ignoring them", () => {
    expect(new NoisePolicy(noiseRules()).effect("file", "/etc/shadow")).toBe("redact");
  });
});
