import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { until } from "./lib/wait.js";

/** True while a QEMU process started for this sandbox directory is alive (and not a zombie). */
function vmAlive(stateDir: string, id: string): boolean {
  const pidfile = join(stateDir, "sandboxes", id, "qemu.pid");
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmdline.includes(pidfile) && state !== "Z") return true;
    } catch {
      // the process went away while we looked
    }
  }
  return false;
}

describe("fluid-daemon standalone with real QEMU microVMs (TCG)", () => {
  let daemon: TestDaemonProcess;
  let shared: string;

  beforeAll(async () => {
    daemon = await startDaemon();
    const created = await daemon.api.create({ name: "shared" });
    expect(created.status).toBe(201);
    shared = created.body.id;
  });

  afterAll(async () => {
    await daemon?.dispose();
  });

  it("serves its local API on a socket only its own user can open (0600)", () => {
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o600);
  });

  it("boots a sandbox to RUNNING with a live VM behind it", async () => {
    const sandbox = await daemon.api.call("GET", `/v1/sandboxes/${shared}`);
    expect(sandbox.body).toMatchObject({ state: "RUNNING", image: "tiny", memory_mb: 256 });
    expect(vmAlive(daemon.stateDir, shared)).toBe(true);
  });

  it("exec returns stdout, stderr, the exit code and duration, with env passed through", async () => {
    const res = await daemon.api.run(shared, 'echo "$GREETING"; uname -s; echo oops >&2; exit 7', {
      env: { GREETING: "hello" },
    });
    expect(res.body).toMatchObject({ stdout: "hello\nLinux\n", stderr: "oops\n", exit_code: 7, timed_out: false });
    expect(res.body.duration_ms).toBeGreaterThan(0);
  });

  it("a command past its timeout is killed in the guest, with its children", async () => {
    const res = await daemon.api.run(shared, "sleep 300 & sleep 300", { timeout_seconds: 2 });
    expect(res.body.timed_out).toBe(true);
    expect(res.body.exit_code).toBe(137);
    const left = await daemon.api.run(shared, "ps | grep -c '[s]leep 300' || true");
    expect(left.body.stdout.trim()).toBe("0");
  });

  it("caps output and says so", async () => {
    const res = await daemon.api.run(shared, "head -c 3000000 /dev/zero | tr '\\0' x");
    expect(res.body.stdout_truncated).toBe(true);
    expect(res.body.stdout.length).toBe(1_048_576);
  });

  it("files are binary-safe both ways", async () => {
    const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const put = await daemon.api.call(
      "PUT",
      `/v1/sandboxes/${shared}/files?path=/root/all-bytes`,
      data,
      "application/octet-stream",
    );
    expect(put.status).toBe(200);
    const sum = await daemon.api.run(shared, "md5sum /root/all-bytes | cut -d' ' -f1");
    expect(sum.body.stdout.trim()).toBe("e2c865db4162bed963bfaa9ef6ac18f0");
    const got = await daemon.api.call("GET", `/v1/sandboxes/${shared}/files?path=/root/all-bytes`);
    expect(got.raw.equals(data)).toBe(true);
  });

  it("stop and start keep the disk", async () => {
    await daemon.api.run(shared, "echo kept > /root/kept; sync");
    const stopped = await daemon.api.call("POST", `/v1/sandboxes/${shared}/stop`, {});
    expect(stopped.body.state).toBe("STOPPED");
    expect(vmAlive(daemon.stateDir, shared)).toBe(false);
    expect((await daemon.api.run(shared, "true")).status).toBe(409);
    const started = await daemon.api.call("POST", `/v1/sandboxes/${shared}/start`);
    expect(started.body.state).toBe("RUNNING");
    expect((await daemon.api.run(shared, "cat /root/kept")).body.stdout).toBe("kept\n");
  });

  it("snapshot → write → restore: the write is gone and memory state is back", async () => {
    await daemon.api.run(shared, "echo before > /root/state; sync");
    const snap = await daemon.api.call("POST", `/v1/sandboxes/${shared}/snapshots`, {
      name: "before",
      include_memory: true,
    });
    expect(snap.status).toBe(201);
    expect(snap.body.has_memory).toBe(true);
    await daemon.api.run(shared, "echo after > /root/state; touch /root/new-file");
    const restored = await daemon.api.call("POST", `/v1/snapshots/${snap.body.id}/restore`, { sandbox_id: shared });
    expect(restored.body.state).toBe("RUNNING");
    const res = await daemon.api.run(shared, "cat /root/state; ls /root/new-file 2>&1 || true");
    expect(res.body.stdout).toMatch(/^before\n.*No such file/s);
  });

  it("cp → disk snapshot → restore keeps the file's bytes and mode (the guest's page cache reaches the snapshot)", async () => {
    const data = Buffer.from("hello from the host\n");
    const put = await daemon.api.call(
      "PUT",
      `/v1/sandboxes/${shared}/files?path=/root/h.txt`,
      data,
      "application/octet-stream",
    );
    expect(put.status).toBe(200);
    const snap = await daemon.api.call("POST", `/v1/sandboxes/${shared}/snapshots`, { name: "s1" });
    expect(snap.status).toBe(201);
    await daemon.api.run(shared, "echo changed > /root/h.txt; chmod 600 /root/h.txt; sync");
    const restored = await daemon.api.call("POST", `/v1/snapshots/${snap.body.id}/restore`, { sandbox_id: shared });
    expect(restored.body.state).toBe("RUNNING");
    const got = await daemon.api.call("GET", `/v1/sandboxes/${shared}/files?path=/root/h.txt`);
    expect(got.raw.toString()).toBe(data.toString());
    expect((await daemon.api.run(shared, "stat -c %A /root/h.txt")).body.stdout).toBe("-rw-r--r--\n");
  });

  it("a disk snapshot copies nothing: the running VM's overlay becomes the layer, and is never written again", async () => {
    const overlay = join(daemon.stateDir, "sandboxes", shared, "disk.qcow2");
    const overlayInode = statSync(overlay).ino;
    const snap = await daemon.api.call("POST", `/v1/sandboxes/${shared}/snapshots`, { name: "layer" });
    expect(snap.status).toBe(201);
    const layer = join(daemon.stateDir, "snapshots", snap.body.id, "disk.qcow2");
    expect(statSync(layer).ino).toBe(overlayInode);
    const sealed = createHash("sha256").update(readFileSync(layer)).digest("hex");
    await daemon.api.run(shared, "head -c 1048576 /dev/urandom > /root/after-layer; sync");
    expect(createHash("sha256").update(readFileSync(layer)).digest("hex")).toBe(sealed);
  });

  it("fork ×2: independent clones with their own identity", async () => {
    await daemon.api.run(shared, "echo original > /root/who");
    const snap = await daemon.api.call("POST", `/v1/sandboxes/${shared}/snapshots`, {
      name: "forkpoint",
      include_memory: true,
    });
    const forked = await daemon.api.call("POST", `/v1/snapshots/${snap.body.id}/fork`, { count: 2 });
    expect(forked.status).toBe(201);
    const [a, b] = forked.body.sandboxes as Array<{ id: string; name: string }>;
    if (!a || !b) throw new Error("expected two clones");
    await daemon.api.run(a.id, "echo clone-a > /root/who");
    const whoB = await daemon.api.run(b.id, "cat /root/who; hostname; cat /etc/machine-id");
    const whoA = await daemon.api.run(a.id, "cat /root/who; hostname; cat /etc/machine-id");
    const [contentB, hostB, idB] = whoB.body.stdout.trim().split("\n");
    const [contentA, hostA, idA] = whoA.body.stdout.trim().split("\n");
    expect(contentA).toBe("clone-a");
    expect(contentB).toBe("original");
    expect(hostA).toBe(a.name);
    expect(hostB).toBe(b.name);
    expect(idA).not.toBe(idB);
    expect((await daemon.api.run(shared, "cat /root/who")).body.stdout).toBe("original\n");
    for (const clone of [a, b]) await daemon.api.call("DELETE", `/v1/sandboxes/${clone.id}`);
  });

  it("an expired lease is enforced by the janitor and recorded as lease_expired", async () => {
    const created = await daemon.api.create({ name: "leased", ttl_seconds: 3600 });
    const id = created.body.id as string;
    const db = new Database(join(daemon.stateDir, "state.db"));
    db.prepare("UPDATE sandboxes SET expires_at = ? WHERE id = ?").run(Date.now() - 1000, id);
    db.close();
    await until(async () => (await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.state === "DESTROYED").catch(
      async (err: Error) => {
        const row = (await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body;
        throw new Error(`${err.message}: ${JSON.stringify(row)}\ndaemon log:\n${daemon.process.output().slice(-4000)}`);
      },
    );
    expect((await daemon.api.call("GET", `/v1/sandboxes/${id}`)).body.end_reason).toBe("lease_expired");
    expect(vmAlive(daemon.stateDir, id)).toBe(false);
    expect(existsSync(join(daemon.stateDir, "sandboxes", id))).toBe(false);
  });

  it("a daemon restart keeps running VMs and recovers them", async () => {
    const pidBefore = (await daemon.api.call("GET", `/v1/sandboxes/${shared}`)).body.pid;
    await daemon.process.crash();
    expect(vmAlive(daemon.stateDir, shared)).toBe(true);
    await daemon.restart();
    expect(daemon.process.output()).toContain(shared);
    const after = await daemon.api.call("GET", `/v1/sandboxes/${shared}`);
    expect(after.body).toMatchObject({ state: "RUNNING", pid: pidBefore });
    expect((await daemon.api.run(shared, "cat /root/kept")).body.stdout).toBe("kept\n");
  });

  it("kill -9 during create: after restart there is no orphan VM, overlay or lease", async () => {
    const creating = daemon.api.create({ name: "interrupted" }).catch(() => undefined);
    let id: string | undefined;
    await until(() => {
      const dir = join(daemon.stateDir, "sandboxes");
      id = readdirSync(dir).find((entry) => entry !== shared && existsSync(join(dir, entry, "qemu.pid")));
      return id !== undefined;
    });
    await daemon.process.crash();
    await creating;
    await daemon.restart();
    if (!id) throw new Error("no interrupted sandbox seen");
    const row = await daemon.api.call("GET", `/v1/sandboxes/${id}`);
    expect(row.body).toMatchObject({ state: "ERROR", end_reason: "create_failed" });
    expect(vmAlive(daemon.stateDir, id)).toBe(false);
    expect(existsSync(join(daemon.stateDir, "sandboxes", id))).toBe(false);
    const leases = new Database(join(daemon.stateDir, "state.db"), { readonly: true });
    expect(leases.prepare("SELECT count(*) AS n FROM ip_leases WHERE sandbox_id = ?").get(id)).toEqual({ n: 0 });
    leases.close();
  });

  it("destroy removes the VM and its overlay", async () => {
    const created = await daemon.api.create({ name: "doomed" });
    const id = created.body.id as string;
    const res = await daemon.api.call("DELETE", `/v1/sandboxes/${id}`);
    expect(res.body).toMatchObject({ state: "DESTROYED", end_reason: "user_request" });
    expect(vmAlive(daemon.stateDir, id)).toBe(false);
    expect(existsSync(join(daemon.stateDir, "sandboxes", id))).toBe(false);
  });

  it("a destroyed sandbox's QEMU is reaped, not left <defunct>", async () => {
    const created = await daemon.api.create({ name: "reaped" });
    const pid = created.body.pid as number;
    expect(pid).toBeGreaterThan(1);
    await daemon.api.call("DELETE", `/v1/sandboxes/${created.body.id}`);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});
