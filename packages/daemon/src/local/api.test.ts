import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SandboxError } from "../errors.js";
import { withRoot } from "../review/disk-view.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import { runChecked } from "../system/run.js";
import { buildLocalApi } from "./api.js";

const IMAGE = "/var/lib/fluid/images/debian-12/rootfs.qcow2";
const ready = existsSync("/dev/fuse") && existsSync(IMAGE) && process.getuid?.() === 0;

describe.skipIf(!ready)("GET /v1/sandboxes/:id/diff (needs root, /dev/fuse and the debian-12 image)", () => {
  let scratch: string;
  let app: ReturnType<typeof buildLocalApi>;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "fluid-review-test-"));
    const overlay = join(scratch, "disk.qcow2");
    await runChecked(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2", overlay]);
    await withRoot(overlay, (root) => writeFile(join(root, "etc/app.conf"), "listen 8080\n"), { writable: true });
    // The manager only has to say where a sandbox's disks are; the disks themselves are real.
    const manager = {
      disks: async (id: string) => {
        if (id !== "sbx-1") throw new SandboxError("not_found", `no sandbox ${id} on this host`);
        return { overlay, base: IMAGE, rootDevice: "/dev/vda" };
      },
      flush: async () => undefined,
      get: async () => ({ state: "STOPPED", dir: scratch }),
    } as unknown as SandboxManager;
    const images = { names: async () => [], resolve: async () => Promise.reject(new Error("unused")) };
    app = buildLocalApi({ manager, images, log: pino({ level: "silent" }) });
  });

  afterAll(async () => {
    await app.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it("returns the sandbox's changes against its image with the diff's hash", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/sandboxes/sbx-1/diff" });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.summary).toMatchObject({ total: 1, added: 1 });
    expect(body.changes).toEqual([
      expect.objectContaining({
        kind: "file",
        action: "added",
        path: "/etc/app.conf",
        diff: "@@ -0,0 +1,1 @@\n+listen 8080\n",
      }),
    ]);
  });

  it("adds the generated playbook when asked with playbook=true", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/sandboxes/sbx-1/diff?playbook=true" });
    const body = response.json();
    expect(body.changes).toHaveLength(1);
    expect(body.playbook.notes).toEqual([]);
    expect(body.playbook.yaml).toContain(
      'ansible.builtin.copy:\n        dest: "/etc/app.conf"\n        content: |\n          listen 8080\n',
    );
  });

  it("applies a per-request noise override", async () => {
    const noise = JSON.stringify({ add: [{ id: "app", match: "/etc/app.conf" }] });
    const response = await app.inject({
      method: "GET",
      url: `/v1/sandboxes/sbx-1/diff?noise=${encodeURIComponent(noise)}`,
    });
    expect(response.json().changes).toEqual([]);
  });

  it("rejects a malformed noise override with the error envelope", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/sandboxes/sbx-1/diff?noise=%7Bnope" });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: "invalid_request", message: "noise: not valid JSON" } });
  });

  it("answers 404 for a sandbox this host does not have", async () => {
    const response = await app.inject({ method: "GET", url: "/v1/sandboxes/sbx-404/diff" });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe("not_found");
  });
});

describe("POST /v1/sandboxes/:id/playbook-runs", () => {
  const reached: string[] = [];
  const manager = {
    sshAccess: async (id: string) => {
      reached.push(id);
      throw new SandboxError("invalid_state", `sandbox is STOPPED, not RUNNING`);
    },
  } as unknown as SandboxManager;
  const images = { names: async () => [], resolve: async () => Promise.reject(new Error("unused")) };
  const app = buildLocalApi({ manager, images, log: pino({ level: "silent" }) });
  afterAll(() => app.close());

  const post = (payload: unknown) =>
    app.inject({ method: "POST", url: "/v1/sandboxes/sbx-1/playbook-runs", payload: payload as object });

  it("refuses a body that is not a playbook run before reaching the sandbox", async () => {
    const response = await post({ playbook_yaml: "- hosts: all\n", timeout_seconds: 0, shell: "sh" });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe("invalid_request");
    expect(reached).toEqual([]);
  });

  it("answers with the sandbox's state error when it cannot be reached", async () => {
    const response = await post({ playbook_yaml: "- hosts: all\n  tasks: []\n", check: true });
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: "invalid_state", message: "sandbox is STOPPED, not RUNNING" });
    expect(reached).toEqual(["sbx-1"]);
  });
});

describe("local API errors use the shared code → status table", () => {
  const manager = {
    get: async (id: string) => {
      if (id === "sbx-gone") throw new SandboxError("not_found", "no sandbox sbx-gone on this host");
      if (id === "sbx-refused") throw new SandboxError("command_refused", "not on this host");
      throw new Error("disk on fire");
    },
  } as unknown as SandboxManager;
  const images = { names: async () => [], resolve: async () => Promise.reject(new Error("unused")) };
  const app = buildLocalApi({ manager, images, log: pino({ level: "silent" }) });
  afterAll(() => app.close());

  it.each([
    ["sbx-gone", 404, "not_found"],
    ["sbx-refused", 403, "command_refused"],
    ["sbx-broken", 502, "host_error"],
  ])("%s answers %i %s", async (id, status, code) => {
    const response = await app.inject({ method: "GET", url: `/v1/sandboxes/${id}` });
    expect(response.statusCode).toBe(status);
    expect(response.json().error.code).toBe(code);
  });
});
