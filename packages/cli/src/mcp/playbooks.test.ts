import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

describe("playbook tools against a real control plane", () => {
  let f: McpFixture;

  beforeAll(async () => {
    f = await startMcp();
  });
  afterAll(() => f.close());

  it("builds a playbook task by task and shows it rendered", async () => {
    const created = await f.call("create_playbook", { name: "configure-nginx", hosts: "web", become: true });
    expect(created.isError).toBeFalsy();
    expect(created.structuredContent).toMatchObject({
      name: "configure-nginx",
      hosts: "web",
      become: true,
      description: "",
    });
    const playbookId = created.structuredContent.id as string;

    const first = await f.call("add_playbook_task", {
      playbook_id: playbookId,
      name: "Install nginx",
      module: "apt",
      params: { name: "nginx", state: "present" },
    });
    expect(first.structuredContent).toEqual({
      id: expect.any(String),
      playbook_id: playbookId,
      position: 0,
      name: "Install nginx",
      module: "ansible.builtin.apt",
      params: { name: "nginx", state: "present" },
      changed_when: null,
    });
    const second = await f.call("add_playbook_task", {
      playbook_id: playbookId,
      name: "Reload",
      module: "shell",
      params: { cmd: "nginx -s reload" },
      changed_when: false,
    });
    expect(second.structuredContent).toMatchObject({
      position: 1,
      module: "ansible.builtin.shell",
      changed_when: false,
    });

    const shown = await f.call("get_playbook", { playbook_id: playbookId });
    expect(shown.isError).toBeFalsy();
    expect(shown.structuredContent).toMatchObject({
      id: playbookId,
      name: "configure-nginx",
      tasks: [
        { name: "Install nginx", position: 0 },
        { name: "Reload", position: 1 },
      ],
    });
    const yaml = shown.structuredContent.yaml_content as string;
    expect(yaml).toMatch(/hosts: "?web"?/);
    expect(yaml).toContain("become: true");
    expect(yaml).toContain("ansible.builtin.apt:");
    expect(yaml).toContain("changed_when: false");
    expect(textOf(shown)).toBe(`playbook configure-nginx (${playbookId}), 2 tasks:\n\n${yaml}`);

    const list = await f.call("list_playbooks");
    expect(list.structuredContent).toEqual({
      playbooks: [expect.objectContaining({ id: playbookId, name: "configure-nginx", task_count: 2 })],
      count: 1,
    });
  });

  it("bounds a very large rendered playbook and says where the whole file is", async () => {
    const created = await f.call("create_playbook", { name: "big" });
    const playbookId = created.structuredContent.id as string;
    for (let i = 0; i < 3; i++) {
      const task = await f.call("add_playbook_task", {
        playbook_id: playbookId,
        name: `Write file ${i}`,
        module: "copy",
        params: { dest: `/etc/f${i}`, content: `${"z".repeat(40_000)}\n` },
      });
      expect(task.isError).toBeFalsy();
    }
    const shown = await f.call("get_playbook", { playbook_id: playbookId });
    expect(shown.structuredContent.tasks).toHaveLength(3);
    expect(Buffer.byteLength(shown.structuredContent.yaml_content)).toBeLessThan(64 * 1024 + 300);
    expect(shown.structuredContent.yaml_content).toMatch(
      new RegExp(
        `\\n\\[… only the first \\d+ of \\d+ bytes are shown; GET /v1/orgs/acme/playbooks/${playbookId}/render\\?format=yaml returns the whole file …\\]$`,
      ),
    );
  });

  it("passes the server's refusals through as tool errors", async () => {
    const created = await f.call("create_playbook", { name: "dup" });
    expect(created.isError).toBeFalsy();
    const duplicate = await f.call("create_playbook", { name: "dup" });
    expect(duplicate.isError).toBe(true);
    expect(textOf(duplicate)).toMatch(/^fluid API error conflict \(HTTP 409\)/);

    const badModule = await f.call("add_playbook_task", {
      playbook_id: created.structuredContent.id,
      name: "Run it",
      module: "raw",
    });
    expect(badModule.isError).toBe(true);
    expect(textOf(badModule)).toMatch(/^fluid API error invalid_request \(HTTP 400\): .*allowed Ansible modules: apt/);

    const unguarded = await f.call("add_playbook_task", {
      playbook_id: created.structuredContent.id,
      name: "Run it",
      module: "shell",
      params: { cmd: "make install" },
    });
    expect(unguarded.isError).toBe(true);
    expect(textOf(unguarded)).toMatch(/creates|removes|changed_when/);

    const missing = await f.call("get_playbook", { playbook_id: "00000000-0000-4000-8000-000000000000" });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/^fluid API error not_found \(HTTP 404\)/);

    const notUuid = await f.call("get_playbook", { playbook_id: "configure-nginx" });
    expect(notUuid.isError).toBe(true);
    expect(textOf(notUuid)).toMatch(/must be a playbook id/);
  });
});
