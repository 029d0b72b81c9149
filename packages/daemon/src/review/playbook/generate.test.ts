import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateFrom, taskNamed } from "../../testing/generated-playbook.js";
import { dpkgStatus, type SandboxRoots, sandboxRoots } from "../../testing/sandbox-roots.js";

const isRoot = process.getuid?.() === 0;

let roots: SandboxRoots;
const generate = () => generateFrom(roots);

beforeEach(async () => {
  roots = await sandboxRoots();
});

afterEach(async () => {
  await roots.cleanup();
});

describe("generatePlaybook", () => {
  it("gives an unchanged sandbox an empty play against all hosts", async () => {
    const { play, notes } = await generate();
    expect(play).toMatchObject({ hosts: "all", gather_facts: false, tasks: [] });
    expect(play.handlers).toBeUndefined();
    expect(notes).toEqual([]);
  });

  it("removes packages first, then installs and re-versions them exactly", async () => {
    await roots.put(
      "/var/lib/dpkg/status",
      dpkgStatus([
        ["dpkg", "1.21.22", "amd64"],
        ["curl", "7.88.1-11", "amd64"],
        ["htop", "3.2.2-2", "amd64"],
        ["libfoo1", "1.0-1", "i386"],
        ["nginx", "1.22.1-9", "amd64"],
        ["nginx-common", "1.22.1-9", "all"],
      ]),
    );
    const { play } = await generate();
    expect(play.tasks).toEqual([
      { name: "Remove packages", "ansible.builtin.apt": { name: ["vim"], state: "absent" } },
      {
        name: "Install packages at their exact versions",
        "ansible.builtin.apt": {
          name: ["htop=3.2.2-2", "libfoo1:i386=1.0-1"],
          state: "present",
          update_cache: true,
          cache_valid_time: 3600,
        },
      },
      {
        name: "Upgrade or downgrade packages to their exact versions",
        "ansible.builtin.apt": {
          name: ["curl=7.88.1-11"],
          state: "present",
          allow_downgrade: true,
          update_cache: true,
          cache_valid_time: 3600,
        },
      },
    ]);
  });

  it("leaves to apt the files an added package installs as shipped, not those edited since", async () => {
    const md5 = (text: string) => createHash("md5").update(text).digest("hex");
    await roots.put(
      "/var/lib/dpkg/status",
      `${await readFile(join(roots.base, "var/lib/dpkg/status"), "utf8")}\nPackage: apppkg\nStatus: install ok installed\n` +
        `Architecture: all\nVersion: 1.0-1\nConffiles:\n /etc/apppkg/a.conf ${md5("a\n")}\n` +
        ` /etc/apppkg/b.conf ${md5("b\n")}\n`,
    );
    await roots.put(
      "/var/lib/dpkg/info/apppkg.list",
      "/etc/apppkg\n/etc/apppkg/a.conf\n/etc/apppkg/b.conf\n/lib/systemd/system/apppkg.service\n",
    );
    // dpkg records the /lib path; on this merged-/usr root the diff finds the file under /usr/lib.
    await roots.linkBoth("/lib", "usr/lib");
    await roots.put("/var/lib/dpkg/info/apppkg.md5sums", `${md5("[Service]\n")}  lib/systemd/system/apppkg.service\n`);
    await roots.put("/etc/apppkg/a.conf", "a\n");
    await roots.put("/etc/apppkg/b.conf", "b edited\n");
    await roots.put("/usr/lib/systemd/system/apppkg.service", "[Service]\n");
    const { play } = await generate();
    expect(play.tasks.map((task) => task.name)).toEqual([
      "Install packages at their exact versions",
      "Write /etc/apppkg/b.conf",
    ]);
  });

  it.skipIf(!isRoot)("copies a new file's whole content with owner and group names and its mode", async () => {
    await roots.put("/srv/app/config.yml", "port: 8080\n# tuned\n", { mode: 0o640, uid: 33, gid: 27 });
    const { play } = await generate();
    expect(play.tasks.map((task) => task.name)).toEqual(["Create directory /srv/app", "Write /srv/app/config.yml"]);
    expect(taskNamed(play, "Write /srv/app/config.yml")).toEqual({
      name: "Write /srv/app/config.yml",
      "ansible.builtin.copy": {
        dest: "/srv/app/config.yml",
        content: "port: 8080\n# tuned\n",
        owner: "www-data",
        group: "sudo",
        mode: "0640",
      },
    });
  });

  it.skipIf(!isRoot)("falls back to the number for an owner the sandbox has no name for", async () => {
    await roots.put("/opt/tool.conf", "x\n", { uid: 4321, gid: 4322 });
    const { play } = await generate();
    expect(taskNamed(play, "Write /opt/tool.conf")?.["ansible.builtin.copy"]).toMatchObject({
      owner: "4321",
      group: "4322",
    });
  });

  it("copies an edited file whole, not as the diff's hunks", async () => {
    await roots.both("/etc/app.conf", "a\nb\nc\n");
    await roots.put("/etc/app.conf", "a\nB\nc");
    const { play } = await generate();
    expect(taskNamed(play, "Write /etc/app.conf")?.["ansible.builtin.copy"]).toMatchObject({ content: "a\nB\nc" });
  });

  it("sets only the mode when only the mode changed", async () => {
    await roots.both("/etc/app.conf", "a\n");
    await roots.put("/etc/app.conf", "a\n", { mode: 0o600 });
    const { play } = await generate();
    expect(play.tasks).toEqual([
      {
        name: "Set the attributes of /etc/app.conf",
        "ansible.builtin.file": { path: "/etc/app.conf", state: "file", mode: "0600" },
      },
    ]);
  });

  it("orders links after files and removals after links", async () => {
    await roots.both("/etc/old.conf", "old\n");
    await roots.remove("/etc/old.conf");
    await roots.link("/etc/app-current", "/opt/app/v2");
    await roots.put("/etc/app.conf", "new\n");
    const { play } = await generate();
    expect(play.tasks.map((task) => task.name)).toEqual([
      "Write /etc/app.conf",
      "Link /etc/app-current to /opt/app/v2",
      "Remove /etc/old.conf",
    ]);
    expect(taskNamed(play, "Link /etc/app-current to /opt/app/v2")?.["ansible.builtin.file"]).toEqual({
      path: "/etc/app-current",
      src: "/opt/app/v2",
      state: "link",
      force: true,
    });
    expect(taskNamed(play, "Remove /etc/old.conf")?.["ansible.builtin.file"]).toEqual({
      path: "/etc/old.conf",
      state: "absent",
    });
  });

  it("notes binary and redacted files instead of copying them", async () => {
    await roots.put("/usr/local/bin/tool", Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1]));
    await roots.put("/etc/ssl/private/site.key", "-----BEGIN PRIVATE KEY-----\nsecret\n");
    const { play, notes, yaml } = await generate();
    expect(play.tasks).toEqual([]);
    expect(notes).toEqual([
      expect.stringMatching(
        /^\/etc\/ssl\/private\/site\.key: its content is redacted by the noise policy \(sha256 [0-9a-f]{64}\)/,
      ),
      expect.stringMatching(/^\/usr\/local\/bin\/tool: binary or larger than 1048576 bytes/),
    ]);
    expect(yaml).not.toContain("secret");
    expect(yaml).toContain(`# - ${notes[0]}\n`);
  });

  it("restarts the enabled service of the package whose config file changed", async () => {
    await roots.put("/etc/nginx/nginx.conf", "worker_processes 2;\n");
    await roots.put("/etc/unowned.conf", "x\n");
    const { play } = await generate();
    expect(taskNamed(play, "Write /etc/nginx/nginx.conf")?.notify).toEqual(["Restart nginx.service"]);
    expect(taskNamed(play, "Write /etc/unowned.conf")?.notify).toBeUndefined();
    expect(play.handlers).toEqual([
      {
        name: "Restart nginx.service",
        "ansible.builtin.systemd_service": { name: "nginx.service", state: "restarted" },
      },
    ]);
  });

  it("writes a sysctl file and notifies a handler that applies the settings", async () => {
    await roots.put("/etc/sysctl.d/60-net.conf", "net.ipv4.ip_forward = 1\n");
    const { play } = await generate();
    expect(play.tasks).toEqual([
      {
        name: "Write /etc/sysctl.d/60-net.conf",
        "ansible.builtin.copy": expect.objectContaining({ content: "net.ipv4.ip_forward = 1\n" }),
        notify: ["Apply sysctl settings"],
      },
    ]);
    expect(play.handlers).toEqual([
      { name: "Apply sysctl settings", "ansible.builtin.command": { cmd: "sysctl --system" }, changed_when: true },
    ]);
  });
});
