import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateFrom, taskNamed } from "../../testing/generated-playbook.js";
import { type SandboxRoots, sandboxRoots } from "../../testing/sandbox-roots.js";

const isRoot = process.getuid?.() === 0;

let roots: SandboxRoots;

beforeEach(async () => {
  roots = await sandboxRoots();
});

afterEach(async () => {
  await roots.cleanup();
});

describe("generatePlaybook: accounts, units, cron", () => {
  it("creates groups, then users with ids and supplementary groups, then removes groups", async () => {
    await roots.both("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nold:x:1002:1002::/nonexistent:/bin/sh\n");
    await roots.both("/etc/group", "root:x:0:\nsudo:x:27:\nold:x:1002:\n");
    await roots.put(
      "/etc/passwd",
      "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1001:1001:Deploy:/home/deploy:/bin/bash\n",
    );
    await roots.put("/etc/group", "root:x:0:\nsudo:x:27:deploy\ndeploy:x:1001:\n");
    await roots.put("/etc/shadow", "root:*:19000:0:99999:7:::\ndeploy:$y$j9T$secret:19000:0:99999:7:::\n");
    const { play, notes, yaml } = await generateFrom(roots);
    const accountTasks = play.tasks.filter((task) => /group|user/.test(task.name));
    expect(accountTasks).toEqual([
      { name: "Create group deploy", "ansible.builtin.group": { name: "deploy", gid: 1001, state: "present" } },
      {
        name: "Create user deploy",
        "ansible.builtin.user": {
          name: "deploy",
          uid: 1001,
          group: "deploy",
          comment: "Deploy",
          home: "/home/deploy",
          shell: "/bin/bash",
          groups: ["sudo"],
          append: false,
          create_home: false,
        },
      },
      { name: "Remove user old", "ansible.builtin.user": { name: "old", state: "absent" } },
      { name: "Remove group old", "ansible.builtin.group": { name: "old", state: "absent" } },
    ]);
    expect(notes).toContain(
      "user deploy: the password was set in the sandbox; set it by hand (hashes never leave the diff)",
    );
    expect(yaml).not.toContain("$y$j9T");
  });

  it("notes no password for an added user whose account is only locked", async () => {
    await roots.put("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nsvc:x:998:998::/nonexistent:/usr/sbin/nologin\n");
    await roots.put("/etc/group", "root:x:0:\nsudo:x:27:\nsvc:x:998:\n");
    await roots.put("/etc/shadow", "root:*:19000:0:99999:7:::\nsvc:!:19000::::::\n");
    const { play, notes } = await generateFrom(roots);
    expect(taskNamed(play, "Create user svc")).toBeDefined();
    expect(notes).toEqual([]);
  });

  it("sets the whole group list of a user who left a group", async () => {
    await roots.both("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nops:x:1003:1003::/home/ops:/bin/bash\n");
    await roots.both("/etc/group", "root:x:0:\nsudo:x:27:ops\nadm:x:4:ops\nops:x:1003:\n");
    await roots.put("/etc/group", "root:x:0:\nsudo:x:27:\nadm:x:4:ops\nops:x:1003:\n");
    const { play } = await generateFrom(roots);
    expect(play.tasks).toEqual([
      { name: "Change user ops", "ansible.builtin.user": { name: "ops", groups: ["adm"], append: false } },
    ]);
  });

  it("enables, masks and disables units without copying their links, reloading systemd once", async () => {
    await roots.remove("/etc/systemd/system/multi-user.target.wants/nginx.service");
    await roots.link("/etc/systemd/system/multi-user.target.wants/app.service", "/etc/systemd/system/app.service");
    await roots.put("/etc/systemd/system/app.service", "[Service]\nExecStart=/usr/local/bin/app\n");
    await roots.link("/etc/systemd/system/apt-daily.timer", "/dev/null");
    const { play } = await generateFrom(roots);
    expect(play.tasks.map((task) => task.name)).toEqual([
      "Write /etc/systemd/system/app.service",
      "Enable app.service",
      "Mask apt-daily.timer",
      "Disable nginx.service",
    ]);
    expect(taskNamed(play, "Enable app.service")?.["ansible.builtin.systemd_service"]).toEqual({
      name: "app.service",
      enabled: true,
    });
    expect(taskNamed(play, "Mask apt-daily.timer")?.["ansible.builtin.systemd_service"]).toEqual({
      name: "apt-daily.timer",
      masked: true,
    });
    expect(taskNamed(play, "Disable nginx.service")?.["ansible.builtin.systemd_service"]).toEqual({
      name: "nginx.service",
      enabled: false,
    });
  });

  it.skipIf(!isRoot)("copies crontabs last, a user's with its owner, the crontab group and mode 0600", async () => {
    await roots.both("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndeploy:x:1001:1001::/home/deploy:/bin/bash\n");
    await roots.put("/var/spool/cron/crontabs/deploy", "*/5 * * * * /usr/local/bin/sync\n", {
      mode: 0o600,
      uid: 1001,
      gid: 101,
    });
    await roots.put("/etc/cron.d/backup", "0 3 * * * root /usr/local/bin/backup\n");
    await roots.put("/etc/app.conf", "x\n");
    const { play } = await generateFrom(roots);
    expect(play.tasks.map((task) => task.name)).toEqual([
      "Write /etc/app.conf",
      "Write /etc/cron.d/backup",
      "Write /var/spool/cron/crontabs/deploy",
    ]);
    expect(taskNamed(play, "Write /var/spool/cron/crontabs/deploy")?.["ansible.builtin.copy"]).toEqual({
      dest: "/var/spool/cron/crontabs/deploy",
      content: "*/5 * * * * /usr/local/bin/sync\n",
      owner: "deploy",
      group: "crontab",
      mode: "0600",
    });
  });

  it("notes a directory that became a file instead of writing over it", async () => {
    await roots.both("/opt/app/keep", "k\n");
    await roots.remove("/opt/app");
    await roots.put("/opt/app", "now a file\n");
    const { play, notes } = await generateFrom(roots);
    expect(notes).toEqual(["/opt/app: a dir became a file; replace it by hand"]);
    expect(play.tasks.map((task) => task.name)).toEqual(["Remove /opt/app/keep"]);
  });

  it("renders the same changes to the same bytes", async () => {
    await roots.put("/etc/nginx/nginx.conf", "worker_processes 4;\n");
    await roots.put("/etc/sysctl.d/60-net.conf", "net.ipv4.ip_forward = 1\n");
    await roots.put("/usr/local/bin/tool", Buffer.from([0, 1, 2]));
    const first = await generateFrom(roots);
    const second = await generateFrom(roots);
    expect(second.yaml).toBe(first.yaml);
  });
});
