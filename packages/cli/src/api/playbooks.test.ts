import { describe, expect, it } from "vitest";
import { fakeServer } from "./fake-server.fixtures.js";
import {
  addTask,
  createPlaybook,
  deletePlaybook,
  getPlaybook,
  listPlaybooks,
  removeTask,
  renderPlaybook,
} from "./playbooks.js";

const base = "/v1/orgs/acme/playbooks";

describe("playbook calls", () => {
  it("sends each playbook and task call to its path with its body", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { id: "pb", playbooks: [], yaml: "- hosts: all\n" } }));
    await createPlaybook(conn, { name: "web", become: true });
    await listPlaybooks(conn);
    await getPlaybook(conn, "pb");
    expect((await renderPlaybook(conn, "pb")).yaml).toBe("- hosts: all\n");
    await addTask(conn, "pb", { name: "nginx", module: "apt", params: { name: "nginx" } });
    await removeTask(conn, "pb", "t1");
    await deletePlaybook(conn, "pb");
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["POST", base, { name: "web", become: true }],
      ["GET", base, undefined],
      ["GET", `${base}/pb`, undefined],
      ["GET", `${base}/pb/render`, undefined],
      ["POST", `${base}/pb/tasks`, { name: "nginx", module: "apt", params: { name: "nginx" } }],
      ["DELETE", `${base}/pb/tasks/t1`, undefined],
      ["DELETE", `${base}/pb`, undefined],
    ]);
  });
});
