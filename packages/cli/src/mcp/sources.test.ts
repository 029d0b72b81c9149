import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

/** The fixture's host answers source commands with one VM, web-1, and refuses `rm` (see TestDaemon). */
describe("source-VM tools", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp();
  });
  afterAll(() => f.close());

  const addSourceHost = async (name: string) => {
    const registered = await f.t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: f.owner,
      body: { type: "libvirt", name, hostname: "10.1.2.3" },
    });
    expect(registered.status).toBe(201);
  };

  it("say that no source hosts are configured when the org has none", async () => {
    for (const [name, args] of [
      ["list_vms", {}],
      ["run_source_command", { source_vm: "web-1", command: "uptime" }],
      ["read_source_file", { source_vm: "web-1", path: "/etc/hostname" }],
    ] as const) {
      const result = await f.call(name, args);
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(textOf(result)).toBe("no source hosts configured for this org");
    }
  });

  it("list_vms lists each source host's VMs", async () => {
    await addSourceHost("prod");
    const result = await f.call("list_vms");
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({
      vms: [
        { name: "web-1", state: "running", prepared: false, ip: "192.0.2.10", source_host: "prod", captured_at: null },
      ],
      count: 1,
      total: 1,
      unreachable: [],
    });
  });

  it("run_source_command runs through the server and reports the refusal of a write as a tool error", async () => {
    const ok = await f.call("run_source_command", { source_vm: "web-1", command: "uptime" });
    expect(ok.structuredContent).toMatchObject({ source_vm: "web-1", exit_code: 0, stdout: "ran uptime\n" });
    const refused = await f.call("run_source_command", { source_vm: "web-1", command: "rm -rf /" });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain("rm is not on the read-only allowlist");
  });

  it("read_source_file returns text as text", async () => {
    const result = await f.call("read_source_file", { source_vm: "web-1", path: "/etc/os-release" });
    expect(result.structuredContent).toMatchObject({ encoding: "utf-8", content: "ID=debian\n", truncated: false });
  });

  it("create_sandbox with source_host clones the VM; live asks for a fresh pull", async () => {
    const created = await f.call("create_sandbox", { source_vm: "web-1", source_host: "prod", live: true });
    expect(created.isError, textOf(created)).toBeFalsy();
    expect(created.structuredContent).toMatchObject({ source_vm: "web-1", state: "RUNNING" });
    const sent = f.daemon.commands("createSandbox").at(-1)?.payload.value as Record<string, any>;
    expect(sent).toMatchObject({ sourceVm: "web-1", snapshotMode: 1, sourceHostConnection: { sshHost: "10.1.2.3" } });
  });

  it("with several source hosts holding the same VM name, asks which one", async () => {
    await addSourceHost("staging");
    const result = await f.call("run_source_command", { source_vm: "web-1", command: "uptime" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/several source hosts have a VM named web-1 .*pass source_host/);
    const named = await f.call("run_source_command", { source_vm: "web-1", command: "uptime", source_host: "staging" });
    expect(named.structuredContent).toMatchObject({ exit_code: 0 });
  });

  it("validate their arguments before calling anything", async () => {
    const result = await f.call("read_source_file", { source_vm: "web-1", path: "relative" });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/must be an absolute path/);
    const badVm = await f.call("run_source_command", { source_vm: "-oProxyCommand=x", command: "id" });
    expect(badVm.isError).toBe(true);
    expect(textOf(badVm)).toMatch(/must be a VM name/);
  });
});

describe("typed source inspection tools", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp();
    await f.t.call("POST", "/v1/orgs/acme/source-hosts", {
      as: f.owner,
      body: { type: "libvirt", name: "prod", hostname: "10.1.2.3" },
    });
  });
  afterAll(() => f.close());

  /** The fixture's host answers `ran <command>`, so each tool's command line is visible in stdout. */
  it.each([
    ["source_list_dir", { path: "/etc/it's here" }, "ls -la -- '/etc/it'\\''s here'"],
    ["source_stat", { path: "/etc/hosts" }, "stat -- '/etc/hosts'"],
    ["source_unit_status", { unit: "nginx.service" }, "systemctl status --no-pager --full -- 'nginx.service'"],
    [
      "source_journal",
      { unit: "nginx.service", lines: 20, since: "-1h", priority: "err" },
      "journalctl --no-pager -n 20 -u 'nginx.service' --since '-1h' -p err",
    ],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format placeholders
    ["source_packages", { name: "nginx" }, "dpkg-query -W -f '${Package}\\t${Version}\\t${Status}\\n' 'nginx'"],
    ["source_processes", {}, "ps -eo pid,ppid,user,pcpu,pmem,etime,args --sort=-pcpu"],
    ["source_listening_sockets", {}, "ss -tulpn"],
  ])("%s runs %s as a read-only command", async (tool, args, command) => {
    const result = await f.call(tool, { source_vm: "web-1", ...args });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ command, exit_code: 0, stdout: `ran ${command}\n` });
  });

  it("refuses arguments that are not what they claim before anything runs", async () => {
    const before = f.daemon.commands("runSourceCommand").length;
    for (const [tool, args] of [
      ["source_list_dir", { path: "relative/dir" }],
      ["source_unit_status", { unit: "-H evil" }],
      ["source_journal", { since: "$(id)" }],
      ["source_packages", { name: "nginx; rm" }],
    ] as const) {
      const result = await f.call(tool, { source_vm: "web-1", ...args });
      expect(result.isError, tool).toBe(true);
    }
    expect(f.daemon.commands("runSourceCommand").length).toBe(before);
  });
});
