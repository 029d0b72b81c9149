import { describe, expect, it } from "vitest";
import { CreateBody, CreateTaskBody, PlaybookParams, playbookView, taskView, UpdateTaskBody } from "./schemas.js";

const at = new Date("2026-01-02T03:04:05.000Z");

describe("playbook request bodies", () => {
  it("fills a new playbook's defaults", () => {
    expect(CreateBody.parse({ name: "deploy" })).toEqual({
      name: "deploy",
      description: "",
      hosts: "all",
      become: false,
    });
  });

  it("refuses a name with a control character and a host pattern Ansible would not read", () => {
    expect(CreateBody.safeParse({ name: "two\nlines" }).success).toBe(false);
    expect(CreateBody.safeParse({ name: "ok", hosts: "web servers" }).success).toBe(false);
    expect(CreateBody.safeParse({ name: "ok", hosts: "webservers:&prod" }).success).toBe(true);
  });

  it("accepts a module by short or fully-qualified name and refuses one outside the list", () => {
    expect(CreateTaskBody.parse({ name: "t", module: "copy" }).params).toEqual({});
    expect(CreateTaskBody.safeParse({ name: "t", module: "ansible.builtin.copy" }).success).toBe(true);
    expect(CreateTaskBody.safeParse({ name: "t", module: "raw_shell_everything" }).success).toBe(false);
  });

  it("lets an update clear changed_when with null", () => {
    expect(UpdateTaskBody.parse({ changed_when: null })).toEqual({ changed_when: null });
  });

  it("rejects extra keys and a playbook id that is not a UUID", () => {
    expect(CreateBody.safeParse({ name: "ok", owner: "me" }).success).toBe(false);
    expect(PlaybookParams.safeParse({ slug: "acme", playbookId: "1" }).success).toBe(false);
  });
});

describe("views", () => {
  it("answers rows with ISO timestamps", () => {
    const playbook = playbookView({
      id: "p",
      org_id: "o",
      name: "deploy",
      description: "",
      hosts: "all",
      become: false,
      task_count: 2,
      created_by: "u",
      created_at: at,
      updated_at: at,
    });
    expect(playbook.created_at).toBe("2026-01-02T03:04:05.000Z");
    expect(playbook.task_count).toBe(2);
    const task = taskView({
      id: "t",
      org_id: "o",
      playbook_id: "p",
      position: 0,
      name: "copy it",
      module: "ansible.builtin.copy",
      params: { src: "a", dest: "b" },
      changed_when: null,
      created_at: at,
      updated_at: at,
    });
    expect(task).toMatchObject({
      position: 0,
      params: { src: "a", dest: "b" },
      updated_at: "2026-01-02T03:04:05.000Z",
    });
  });
});
