import { type Caller, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { newId } from "../lib/ids.js";
import { playbookLimits } from "./modules.js";

type User = Caller & { id: string; email: string };

describe.each(databaseKinds)("playbooks (%s)", (kind) => {
  let t: TestServer;
  let owner: User;
  let admin: User;
  let member: User;
  let other: User;
  let viewer: User;

  const base = "/v1/orgs/acme/playbooks";
  const create = (as: Caller, body: Record<string, unknown> = {}, slug = "acme") =>
    t.call("POST", `/v1/orgs/${slug}/playbooks`, { as, body: { name: "web", ...body } });
  const addTask = (as: Caller, playbookId: string, body: Record<string, unknown>) =>
    t.call("POST", `${base}/${playbookId}/tasks`, { as, body });
  const debugTask = (name: string) => ({ name, module: "debug", params: { msg: name } });
  const taskNames = async (playbookId: string) => {
    const res = await t.call("GET", `${base}/${playbookId}/tasks`, { as: owner });
    expect(res.status).toBe(200);
    return (res.body.tasks as { name: string; position: number }[]).map((task, i) => {
      expect(task.position).toBe(i);
      return task.name;
    });
  };
  const dbTasks = (playbookId: string) =>
    t.server.ctx.db
      .selectFrom("playbook_tasks")
      .select(["id", "name", "position"])
      .where("playbook_id", "=", playbookId)
      .orderBy("position")
      .execute();

  beforeEach(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    admin = await t.fastUser("admin");
    member = await t.fastUser("member");
    other = await t.fastUser("other");
    viewer = await t.fastUser("viewer");
    for (const [user, role] of [
      [admin, "admin"],
      [member, "member"],
      [other, "member"],
      [viewer, "viewer"],
    ] as const) {
      await t.member(owner, "acme", user, role);
    }
  });

  afterEach(() => t.close());

  describe("CRUD", () => {
    it("creates with defaults, lists, gets with tasks, patches and deletes", async () => {
      const created = await create(member, { description: "front end" });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name: "web",
        description: "front end",
        hosts: "all",
        become: false,
        task_count: 0,
        created_by: member.id,
      });
      const id = created.body.id as string;

      await create(member, { name: "db", hosts: "dbservers", become: true });
      const list = await t.call("GET", base, { as: viewer });
      expect(list.status).toBe(200);
      expect(list.body.count).toBe(2);
      expect(list.body.playbooks.map((p: { name: string }) => p.name)).toEqual(["db", "web"]);

      await addTask(member, id, debugTask("one"));
      const got = await t.call("GET", `${base}/${id}`, { as: viewer });
      expect(got.status).toBe(200);
      expect(got.body.playbook).toMatchObject({ id, name: "web", task_count: 1 });
      expect(got.body.tasks).toEqual([
        expect.objectContaining({
          playbook_id: id,
          position: 0,
          name: "one",
          module: "ansible.builtin.debug",
          params: { msg: "one" },
          changed_when: null,
        }),
      ]);

      const patched = await t.call("PATCH", `${base}/${id}`, {
        as: admin,
        body: { name: "web-tier", description: "", hosts: "webservers:&prod", become: true },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({
        name: "web-tier",
        description: "",
        hosts: "webservers:&prod",
        become: true,
      });
      expect(new Date(patched.body.updated_at).getTime()).toBeGreaterThanOrEqual(
        new Date(created.body.updated_at).getTime(),
      );

      const deleted = await t.call("DELETE", `${base}/${id}`, { as: member });
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ status: "deleted" });
      expect((await t.call("GET", `${base}/${id}`, { as: owner })).status).toBe(404);
      expect(await dbTasks(id)).toEqual([]);
      expect((await t.call("DELETE", `${base}/${id}`, { as: owner })).status).toBe(404);
    });

    it("names are unique per organization, not across organizations", async () => {
      expect((await create(member)).status).toBe(201);
      const duplicate = await create(owner);
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error).toEqual({ code: "conflict", message: 'a playbook named "web" already exists' });
      const second = await create(member, { name: "db" });
      expect((await t.call("PATCH", `${base}/${second.body.id}`, { as: member, body: { name: "web" } })).status).toBe(
        409,
      );
      await t.org(other, "globex");
      expect((await create(other, {}, "globex")).status).toBe(201);
    });

    it("unknown playbook and task ids answer 404", async () => {
      const missing = newId();
      expect((await t.call("GET", `${base}/${missing}`, { as: owner })).status).toBe(404);
      expect((await t.call("PATCH", `${base}/${missing}`, { as: owner, body: { name: "x" } })).status).toBe(404);
      expect((await addTask(owner, missing, debugTask("x"))).status).toBe(404);
      expect((await t.call("GET", `${base}/${missing}/render`, { as: owner })).status).toBe(404);
      const pb = await create(owner);
      expect(
        (await t.call("PATCH", `${base}/${pb.body.id}/tasks/${missing}`, { as: owner, body: { name: "x" } })).status,
      ).toBe(404);
      expect((await t.call("DELETE", `${base}/${pb.body.id}/tasks/${missing}`, { as: owner })).status).toBe(404);
      expect((await t.call("GET", `${base}/not-a-uuid`, { as: owner })).status).toBe(400);
    });
  });

  describe("task order", () => {
    it("appends, inserts at a position, deletes and reorders with dense positions", async () => {
      const pb = await create(member);
      const id = pb.body.id as string;
      for (const name of ["a", "b", "c"]) expect((await addTask(member, id, debugTask(name))).status).toBe(201);
      expect(await taskNames(id)).toEqual(["a", "b", "c"]);

      const inserted = await addTask(member, id, { ...debugTask("first"), position: 0 });
      expect(inserted.body.position).toBe(0);
      await addTask(member, id, { ...debugTask("mid"), position: 2 });
      expect(await taskNames(id)).toEqual(["first", "a", "mid", "b", "c"]);
      expect((await addTask(member, id, { ...debugTask("far"), position: 9 })).status).toBe(400);

      const tasks = await dbTasks(id);
      const byName = Object.fromEntries(tasks.map((task) => [task.name, task.id]));
      expect((await t.call("DELETE", `${base}/${id}/tasks/${byName.a}`, { as: member })).status).toBe(200);
      expect(await taskNames(id)).toEqual(["first", "mid", "b", "c"]);

      const order = [byName.c, byName.first, byName.b, byName.mid];
      const reordered = await t.call("PUT", `${base}/${id}/tasks/reorder`, { as: member, body: { task_ids: order } });
      expect(reordered.status).toBe(200);
      expect(reordered.body.tasks.map((task: { id: string }) => task.id)).toEqual(order);
      expect(reordered.body.tasks.map((task: { position: number }) => task.position)).toEqual([0, 1, 2, 3]);
      expect(await taskNames(id)).toEqual(["c", "first", "b", "mid"]);

      const detail = await t.call("GET", `${base}/${id}`, { as: viewer });
      expect(detail.body.playbook.task_count).toBe(4);
      expect(detail.body.tasks.map((task: { name: string }) => task.name)).toEqual(["c", "first", "b", "mid"]);
      const yaml = parse((await t.call("GET", `${base}/${id}/render`, { as: viewer })).body.yaml);
      expect(yaml[0].tasks.map((task: { name: string }) => task.name)).toEqual(["c", "first", "b", "mid"]);
    });

    it("reorder must name exactly the playbook's tasks, each once; a refused reorder changes nothing", async () => {
      const pb = await create(member);
      const id = pb.body.id as string;
      for (const name of ["a", "b", "c"]) await addTask(member, id, debugTask(name));
      const otherPb = await create(member, { name: "other" });
      const foreign = await addTask(member, otherPb.body.id, debugTask("foreign"));
      const [a, b, c] = (await dbTasks(id)).map((task) => task.id);
      const before = await dbTasks(id);

      for (const task_ids of [
        [a, b],
        [a, b, c, foreign.body.id],
        [a, b, foreign.body.id],
        [a, a, b],
        [a, b, c, c],
        [a, b, newId()],
        [],
      ]) {
        const res = await t.call("PUT", `${base}/${id}/tasks/reorder`, { as: member, body: { task_ids } });
        expect(res.status, JSON.stringify(task_ids)).toBe(400);
        expect(res.body.error.message).toMatch(/task_ids must list each of the playbook's 3 tasks exactly once/);
      }
      expect(
        (await t.call("PUT", `${base}/${id}/tasks/reorder`, { as: member, body: { task_ids: [a, b, c], x: 1 } }))
          .status,
      ).toBe(400);
      expect(await dbTasks(id)).toEqual(before);

      const empty = await create(member, { name: "empty" });
      const ok = await t.call("PUT", `${base}/${empty.body.id}/tasks/reorder`, {
        as: member,
        body: { task_ids: [] },
      });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ tasks: [], count: 0 });
    });

    it("a task is only reachable through its own playbook", async () => {
      const one = await create(member, { name: "one" });
      const two = await create(member, { name: "two" });
      const task = await addTask(member, one.body.id, debugTask("x"));
      const wrong = `${base}/${two.body.id}/tasks/${task.body.id}`;
      expect((await t.call("PATCH", wrong, { as: member, body: { name: "moved" } })).status).toBe(404);
      expect((await t.call("DELETE", wrong, { as: member })).status).toBe(404);
      expect(await dbTasks(one.body.id)).toEqual([expect.objectContaining({ name: "x", position: 0 })]);
    });

    it("concurrent appends get distinct, dense positions", async () => {
      const pb = await create(member);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => addTask(member, pb.body.id, debugTask(`t${i}`))),
      );
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
      expect((await dbTasks(pb.body.id)).map((task) => task.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it("task edits move the playbook's updated_at", async () => {
      const pb = await create(member);
      const task = await addTask(member, pb.body.id, debugTask("x"));
      const stamp = async () =>
        (
          await t.server.ctx.db
            .selectFrom("playbooks")
            .select("updated_at")
            .where("id", "=", pb.body.id)
            .executeTakeFirstOrThrow()
        ).updated_at.getTime();
      let last = await stamp();
      for (const edit of [
        () => t.call("PATCH", `${base}/${pb.body.id}/tasks/${task.body.id}`, { as: member, body: { name: "y" } }),
        () => addTask(member, pb.body.id, debugTask("z")),
        () => t.call("DELETE", `${base}/${pb.body.id}/tasks/${task.body.id}`, { as: member }),
      ]) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect((await edit()).status).toBeLessThan(300);
        const now = await stamp();
        expect(now).toBeGreaterThan(last);
        last = now;
      }
    });
  });

  describe("tasks", () => {
    it("stores modules fully qualified and patches name, module, params and changed_when", async () => {
      const pb = await create(member);
      const task = await addTask(member, pb.body.id, {
        name: "Install nginx",
        module: "apt",
        params: { name: "nginx", state: "present" },
      });
      expect(task.status).toBe(201);
      expect(task.body).toMatchObject({ module: "ansible.builtin.apt", params: { name: "nginx", state: "present" } });
      const url = `${base}/${pb.body.id}/tasks/${task.body.id}`;

      const renamed = await t.call("PATCH", url, { as: member, body: { name: "Install nginx and curl" } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: "Install nginx and curl", module: "ansible.builtin.apt" });

      const toCommand = await t.call("PATCH", url, { as: member, body: { module: "command" } });
      expect(toCommand.status).toBe(400);
      expect(toCommand.body.error.message).toMatch(/params\.cmd/);

      const guarded = await t.call("PATCH", url, {
        as: member,
        body: { module: "ansible.builtin.command", params: { cmd: "/opt/setup" }, changed_when: false },
      });
      expect(guarded.status).toBe(200);
      expect(guarded.body).toMatchObject({ module: "ansible.builtin.command", changed_when: false });

      const unguard = await t.call("PATCH", url, { as: member, body: { changed_when: null } });
      expect(unguard.status).toBe(400);
      expect(unguard.body.error.message).toMatch(/creates.*removes.*changed_when/);

      const withCreates = await t.call("PATCH", url, {
        as: member,
        body: { params: { cmd: "/opt/setup", creates: "/opt/.done" }, changed_when: null },
      });
      expect(withCreates.status).toBe(200);
      expect(withCreates.body).toMatchObject({
        params: { cmd: "/opt/setup", creates: "/opt/.done" },
        changed_when: null,
      });
      expect(await dbTasks(pb.body.id)).toHaveLength(1);
    });

    it("renders through the API as JSON or as the YAML file itself", async () => {
      const pb = await create(member, { name: "Web tier", hosts: "web", become: true });
      await addTask(member, pb.body.id, {
        name: "Config",
        module: "copy",
        params: { dest: "/etc/app.conf", content: "debug: yes\nport: 1.10\n" },
      });
      await addTask(member, pb.body.id, {
        name: "Migrate",
        module: "shell",
        params: { cmd: "app migrate", creates: "/var/lib/app/migrated" },
      });
      const json = await t.call("GET", `${base}/${pb.body.id}/render`, { as: viewer });
      expect(json.status).toBe(200);
      expect(json.body.playbook_id).toBe(pb.body.id);
      expect(parse(json.body.yaml)).toEqual([
        {
          name: "Web tier",
          hosts: "web",
          become: true,
          tasks: [
            {
              name: "Config",
              "ansible.builtin.copy": { content: "debug: yes\nport: 1.10\n", dest: "/etc/app.conf" },
            },
            {
              name: "Migrate",
              "ansible.builtin.shell": { cmd: "app migrate", creates: "/var/lib/app/migrated" },
            },
          ],
        },
      ]);
      const file = await t.call("GET", `${base}/${pb.body.id}/render`, { as: viewer, query: { format: "yaml" } });
      expect(file.status).toBe(200);
      expect(file.headers["content-type"]).toBe("application/yaml; charset=utf-8");
      expect(file.body).toBe(json.body.yaml);
      expect(
        (await t.call("GET", `${base}/${pb.body.id}/render`, { as: viewer, query: { format: "xml" } })).status,
      ).toBe(400);
    });
  });

  describe("roles", () => {
    it("viewers read; members create; only the author or an admin edits or deletes", async () => {
      const pb = await create(member);
      const id = pb.body.id as string;
      const task = await addTask(member, id, debugTask("x"));
      const taskUrl = `${base}/${id}/tasks/${task.body.id}`;

      for (const [method, url] of [
        ["GET", base],
        ["GET", `${base}/${id}`],
        ["GET", `${base}/${id}/tasks`],
        ["GET", `${base}/${id}/render`],
      ] as const) {
        expect((await t.call(method, url, { as: viewer })).status, `${method} ${url}`).toBe(200);
      }
      const refused = [
        await create(viewer, { name: "mine" }),
        await t.call("PATCH", `${base}/${id}`, { as: viewer, body: { name: "x" } }),
        await t.call("DELETE", `${base}/${id}`, { as: viewer }),
        await addTask(viewer, id, debugTask("y")),
        await t.call("PATCH", taskUrl, { as: viewer, body: { name: "y" } }),
        await t.call("DELETE", taskUrl, { as: viewer }),
        await t.call("PUT", `${base}/${id}/tasks/reorder`, { as: viewer, body: { task_ids: [task.body.id] } }),
      ];
      for (const res of refused) {
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe("forbidden");
      }

      expect((await t.call("DELETE", `${base}/${id}`, { as: admin })).status).toBe(200);
      const own = await create(other, { name: "own" });
      expect((await t.call("DELETE", `${base}/${own.body.id}`, { as: other })).status).toBe(200);
    });

    it("a member cannot edit or re-task another author's playbook, just as they cannot delete it", async () => {
      const pb = await create(member);
      const id = pb.body.id as string;
      const task = await addTask(member, id, debugTask("x"));
      const taskUrl = `${base}/${id}/tasks/${task.body.id}`;
      const before = await t.call("GET", `${base}/${id}`, { as: owner });

      const refused = {
        edit: await t.call("PATCH", `${base}/${id}`, { as: other, body: { description: "edited", become: true } }),
        add: await addTask(other, id, debugTask("y")),
        retask: await t.call("PATCH", taskUrl, { as: other, body: { name: "edited" } }),
        remove: await t.call("DELETE", taskUrl, { as: other }),
        reorder: await t.call("PUT", `${base}/${id}/tasks/reorder`, { as: other, body: { task_ids: [task.body.id] } }),
        delete: await t.call("DELETE", `${base}/${id}`, { as: other }),
      };
      for (const [what, res] of Object.entries(refused)) {
        expect.soft(res.status, what).toBe(403);
        expect.soft(res.body.error, what).toEqual({
          code: "forbidden",
          message: "only the playbook's author or an admin can change it",
        });
      }
      expect(await t.call("GET", `${base}/${id}`, { as: owner })).toMatchObject({ status: 200, body: before.body });

      expect((await t.call("PATCH", taskUrl, { as: member, body: { name: "by author" } })).status).toBe(200);
      expect((await t.call("PATCH", taskUrl, { as: admin, body: { name: "by admin" } })).status).toBe(200);
      expect((await t.call("DELETE", `${base}/${id}`, { as: admin })).status).toBe(200);
    });

    it("API keys act with their role", async () => {
      const readKey = await t.apiKey(owner, "acme", "viewer");
      const writeKey = await t.apiKey(owner, "acme", "member");
      expect((await create({ key: readKey.key })).status).toBe(403);
      expect((await t.call("GET", base, { as: { key: readKey.key } })).status).toBe(200);
      const made = await create({ key: writeKey.key });
      expect(made.status).toBe(201);
      expect(made.body.created_by).toBe(owner.id);
    });
  });

  describe("isolation", () => {
    it("another org's owner gets 404 for every playbook route, and nothing changes", async () => {
      const pb = await create(member, { become: true });
      const id = pb.body.id as string;
      const task = await addTask(member, id, debugTask("x"));
      await t.org(other, "globex");
      const intruder = await t.fastUser("intruder");
      await t.org(intruder, "initech");
      const intruderKey = await t.apiKey(intruder, "initech", "owner");
      const snapshot = async () => ({
        playbooks: await t.server.ctx.db.selectFrom("playbooks").selectAll().orderBy("id").execute(),
        tasks: await t.server.ctx.db.selectFrom("playbook_tasks").selectAll().orderBy("id").execute(),
      });
      const before = await snapshot();

      for (const caller of [intruder, { key: intruderKey.key }]) {
        for (const slug of ["initech", "acme"]) {
          const root = `/v1/orgs/${slug}/playbooks`;
          const taskUrl = `${root}/${id}/tasks/${task.body.id}`;
          const attempts: [string, string, unknown?][] = [
            ["GET", `${root}/${id}`],
            ["GET", `${root}/${id}/tasks`],
            ["GET", `${root}/${id}/render`],
            ["PATCH", `${root}/${id}`, { name: "pwned", become: false }],
            ["DELETE", `${root}/${id}`],
            ["POST", `${root}/${id}/tasks`, debugTask("evil")],
            ["PUT", `${root}/${id}/tasks/reorder`, { task_ids: [task.body.id] }],
            ["PATCH", taskUrl, { params: { msg: "pwned" } }],
            ["DELETE", taskUrl],
          ];
          for (const [method, url, body] of attempts) {
            const res = await t.call(method, url, { as: caller, ...(body === undefined ? {} : { body }) });
            expect.soft(res.status, `${method} ${url}`).toBe(404);
            expect.soft(res.body.error.code, `${method} ${url}`).toBe("not_found");
          }
        }
        const list = await t.call("GET", "/v1/orgs/initech/playbooks", { as: caller });
        expect(list.body).toEqual({ playbooks: [], count: 0 });
      }
      // A member of both orgs, acting in the wrong one, cannot reach it either.
      expect((await t.call("GET", `/v1/orgs/globex/playbooks/${id}`, { as: other })).status).toBe(404);
      expect(
        (await t.call("DELETE", `/v1/orgs/globex/playbooks/${id}/tasks/${task.body.id}`, { as: other })).status,
      ).toBe(404);
      expect(await snapshot()).toEqual(before);
    });
  });

  describe("validation", () => {
    it("rejects unknown fields and malformed playbooks", async () => {
      const bad = [
        { extra: 1 },
        { name: "" },
        { name: "   " },
        { name: "two\nlines" },
        { name: "x".repeat(129) },
        { name: "nul\u0000" },
        { hosts: "web servers" },
        { hosts: "{{ evil }}" },
        { become: "yes" },
        { description: "d".repeat(4097) },
        { description: "nul\u0000" },
      ];
      for (const body of bad) expect((await create(member, body)).status, JSON.stringify(body)).toBe(400);
      const pb = await create(member);
      expect((await t.call("PATCH", `${base}/${pb.body.id}`, { as: member, body: { owner: "me" } })).status).toBe(400);
      expect((await create(member, { name: "  padded  " })).body.name).toBe("padded");
      expect(await t.server.ctx.db.selectFrom("playbooks").select("id").execute()).toHaveLength(2);
    });

    it("rejects unknown modules, non-object params and unknown task fields", async () => {
      const pb = await create(member);
      const unknown = await addTask(member, pb.body.id, { name: "x", module: "raw", params: {} });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.message).toMatch(/must be one of the allowed Ansible modules: apt, package, copy/);
      for (const body of [
        { name: "x", module: "ansible.builtin.raw", params: {} },
        { name: "x", module: "community.general.ufw", params: {} },
        { name: "x", module: "debug", params: [] },
        { name: "x", module: "debug", params: "msg=hi" },
        { name: "x", module: "debug", params: null },
        { name: "x", module: "debug", params: {}, when: "true" },
        { module: "debug", params: {} },
        { name: "x", params: {} },
        { name: "x", module: "debug", params: {}, position: -1 },
      ]) {
        expect((await addTask(member, pb.body.id, body)).status, JSON.stringify(body)).toBe(400);
      }
      const defaults = await addTask(member, pb.body.id, { name: "x", module: "ansible.builtin.debug" });
      expect(defaults.status).toBe(201);
      expect(defaults.body.params).toEqual({});
      expect(
        (
          await t.call("PATCH", `${base}/${pb.body.id}/tasks/${defaults.body.id}`, {
            as: member,
            body: { params: { msg: "x" }, state: "present" },
          })
        ).status,
      ).toBe(400);
    });

    it("command and shell tasks must say when they change something", async () => {
      const pb = await create(member);
      const refuse = async (body: Record<string, unknown>, message: RegExp) => {
        const res = await addTask(member, pb.body.id, { name: "run", ...body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe("invalid_request");
        expect(res.body.error.message).toMatch(message);
      };
      const unguarded = /a command task must say when it changes something: give params\.creates or params\.removes/;
      await refuse({ module: "command", params: { cmd: "/opt/setup" } }, unguarded);
      await refuse({ module: "ansible.builtin.shell", params: { cmd: "make install" } }, /a shell task must say/);
      await refuse({ module: "command", params: { cmd: "x", creates: "" } }, unguarded);
      await refuse({ module: "command", params: { cmd: "x", changed_when: false } }, /changed_when is a task keyword/);
      await refuse({ module: "command", params: { creates: "/x" } }, /command tasks need params\.cmd/);
      await refuse({ module: "shell", params: { argv: ["ls"], creates: "/x" } }, /shell tasks need params\.cmd/);
      await refuse({ module: "command", params: { cmd: "  ", creates: "/x" } }, /params\.cmd/);
      await refuse({ module: "command", params: { cmd: "x" }, changed_when: "" }, /changed_when/);

      for (const body of [
        { module: "command", params: { cmd: "/opt/setup", creates: "/opt/.done" } },
        { module: "shell", params: { cmd: "rm -rf /tmp/x", removes: "/tmp/x" } },
        { module: "command", params: { argv: ["systemctl", "is-active", "nginx"] }, changed_when: false },
        { module: "shell", params: { cmd: "grep -q x /etc/y || echo x >> /etc/y" }, changed_when: "'x' in out.stdout" },
      ]) {
        expect((await addTask(member, pb.body.id, { name: "run", ...body })).status, JSON.stringify(body)).toBe(201);
      }
    });

    it("caps params and refuses values that cannot be stored or rendered exactly", async () => {
      const pb = await create(member);
      const refuse = async (params: unknown, message: RegExp) => {
        const res = await addTask(member, pb.body.id, { name: "x", module: "copy", params });
        expect(res.status, JSON.stringify(params).slice(0, 80)).toBe(400);
        expect(res.body.error.message).toMatch(message);
      };
      await refuse({ dest: "/x", content: "x".repeat(playbookLimits.maxParamsBytes) }, /at most 131072 bytes/);
      await refuse({ dest: "/x", content: "nul\u0000" }, /params\.content: contains characters that cannot be stored/);
      await refuse({ dest: "/x", content: "half \ud800 a pair" }, /cannot be stored/);
      await refuse({ dest: "/x", "bad key": 1 }, /module argument names must be identifiers/);
      await refuse({ dest: "/x", mode: 1e21 }, /numbers must lie between/);
      await refuse({ dest: "/x", mode: 1e-7 }, /numbers must lie between/);
      let deep: unknown = "bottom";
      for (let i = 0; i < 20; i++) deep = [deep];
      await refuse({ dest: "/x", deep }, /nested deeper than 16 levels/);
      expect(await dbTasks(pb.body.id)).toEqual([]);

      const big = await addTask(member, pb.body.id, {
        name: "big",
        module: "copy",
        params: { dest: "/x", content: "y".repeat(playbookLimits.maxParamsBytes - 100) },
      });
      expect(big.status).toBe(201);
    });

    it("a playbook holds a bounded number of tasks", async () => {
      const pb = await create(member);
      await t.server.ctx.db
        .insertInto("playbook_tasks")
        .values(
          Array.from({ length: playbookLimits.maxTasks }, (_, i) => ({
            id: newId(),
            org_id: pb.body.org_id,
            playbook_id: pb.body.id,
            position: i,
            name: `t${i}`,
            module: "ansible.builtin.debug",
            params: "{}",
          })),
        )
        .execute();
      const res = await addTask(member, pb.body.id, debugTask("one too many"));
      expect(res.status).toBe(409);
      expect(res.body.error.message).toBe(`a playbook holds at most ${playbookLimits.maxTasks} tasks`);
    });
  });
});
