import { describe, expect, it } from "vitest";
import { CliError } from "../output.js";
import { fakeServer } from "./fake-server.fixtures.js";
import {
  addSourceHost,
  prepareVm,
  readVmFile,
  removeSourceHost,
  runOnVm,
  sourceCommandLog,
  sourceHostOf,
} from "./source-hosts.js";

const HOST = { id: "h1", name: "lab" };
const vm = "/v1/orgs/acme/source-hosts/h1/vms/web";

describe("source-host calls", () => {
  it("adds and removes a source host", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { id: "h1" } }));
    await addSourceHost(conn, { type: "libvirt", name: "lab", hostname: "10.0.0.2", ssh_port: 22, ssh_user: "fluid" });
    await removeSourceHost(conn, HOST);
    expect(calls.map((c) => [c.method, c.path])).toEqual([
      ["POST", "/v1/orgs/acme/source-hosts"],
      ["DELETE", "/v1/orgs/acme/source-hosts/h1"],
    ]);
  });

  it("prepares, runs on and reads a file of a VM on a given host", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { exit_code: 0 } }));
    await prepareVm(conn, HOST, "web", { ssh_user: "fluid" });
    await runOnVm(conn, HOST, "web", { command: "uptime" });
    await readVmFile(conn, HOST, "web", "/etc/hosts");
    expect(calls.map((c) => [c.method, c.path, c.query, c.body])).toEqual([
      ["POST", `${vm}/prepare`, {}, { ssh_user: "fluid" }],
      ["POST", `${vm}/run`, {}, { command: "uptime" }],
      ["GET", `${vm}/file`, { path: "/etc/hosts" }, undefined],
    ]);
  });

  it("reads the source-command audit trail with its filters", async () => {
    const { conn, calls } = fakeServer(() => ({ body: { source_commands: [] } }));
    await sourceCommandLog(conn, { vm: "web", limit: 5 });
    expect(calls[0]).toMatchObject({ path: "/v1/orgs/acme/source-commands", query: { vm: "web", limit: "5" } });
  });

  it("finds the only host that has the VM, and says so when none has it", async () => {
    const listing = (vms: string[]) => ({ body: { vms: vms.map((name) => ({ name })) } });
    const { conn } = fakeServer((request) => {
      if (request.path === "/v1/orgs/acme/source-hosts") {
        return { body: { count: 2, source_hosts: [HOST, { id: "h2", name: "prod" }] } };
      }
      return request.path.includes("/h2/") ? listing(["web"]) : listing(["db"]);
    });
    expect(await sourceHostOf(conn, "web", undefined)).toEqual({ id: "h2", name: "prod" });
    await expect(sourceHostOf(conn, "mail", undefined)).rejects.toMatchObject({ code: "not_found" });
    await expect(sourceHostOf(conn, "mail", undefined)).rejects.toBeInstanceOf(CliError);
  });
});
