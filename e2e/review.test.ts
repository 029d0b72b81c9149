import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { buildImage, repoRoot } from "./lib/global-setup.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

const isRoot = process.getuid?.() === 0;
/** Where to keep the run's diff, playbook and verification reports (docs/review.md quotes them). */
const exampleDir = process.env.FLUID_REVIEW_EXAMPLE_DIR;
const keep = async (name: string, value: unknown) => {
  if (!exampleDir) return;
  await mkdir(exampleDir, { recursive: true });
  await writeFile(join(exampleDir, name), typeof value === "string" ? value : `${JSON.stringify(value, null, 2)}\n`);
};
const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const REVIEWER = { email: "reviewer@example.com", password: "correct horse battery" };
const TITLE = "Demo service with its config";
const hasAnsible = spawnSync("ansible-playbook", ["--version"]).status === 0;

/** The agent's changes, one of each kind the review must see. */
const CHANGES = [
  "mkdir -p /etc/demo && printf 'listen 8080\\nworkers 4\\n' > /etc/demo/app.conf",
  "printf 'Welcome to the demo host\\n' >> /etc/motd",
  "rm /etc/issue.net",
  "useradd --create-home --shell /bin/bash deploy",
  "printf '[Unit]\\nDescription=demo\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/demo.service && systemctl enable demo.service",
  "printf '*/5 * * * * root /bin/true\\n' > /etc/cron.d/demo",
  "printf 'vm.swappiness = 10\\n' > /etc/sysctl.d/60-demo.conf",
  "apt-get remove -y -q tzdata",
].join(" && ");

/**
 * The review pipeline on real VMs: an agent changes a debian-12 sandbox; the change request carries
 * the semantic diff and a generated playbook; verification applies it twice to a fresh clone with
 * ansible-playbook and compares diffs; approvals bind to hashes under the two-person rule; the audit
 * chain verifies, and stops verifying once a row is altered.
 */
describe.skipIf(!isRoot || !hasAnsible)("review pipeline on a real debian-12 sandbox (needs root and ansible)", () => {
  let server: TestServerProcess;
  let daemon: TestDaemonProcess;
  let author: string;
  let reviewer: string;
  let sandboxId: string;
  let changeId: string;
  let work: string;

  beforeAll(async () => {
    buildImage("debian-12", inject("imageDir"));
    work = await mkdtemp(join(tmpdir(), "fluid-e2e-review-"));
    server = await startServer();
    const owner = await server.bootstrap("acme");
    author = owner.key;
    const invited = await server.call("POST", "/v1/orgs/acme/invitations", {
      cookie: owner.cookie,
      body: { email: REVIEWER.email, role: "admin" },
    });
    const registered = await server.call("POST", "/v1/auth/register", {
      body: { ...REVIEWER, display_name: "Reviewer" },
    });
    const cookie = (registered.setCookie ?? "").split(";")[0] ?? "";
    await server.call("POST", "/v1/invitations/accept", { cookie, body: { token: invited.body.token } });
    reviewer = (await server.call("POST", "/v1/orgs/acme/api-keys", { cookie, body: { name: "r", role: "admin" } }))
      .body.key;
    const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key: author, body: { name: "h" } });
    daemon = await startDaemon({
      network: "bridge",
      bridge: "fle2erev0",
      subnet: "10.93.91.0/24",
      extraArgs: ["--server", server.grpc, "--insecure", "--token", token.body.token],
    });
    await until(
      async () =>
        (await server.call("GET", "/v1/orgs/acme/hosts", { key: author })).body.hosts?.[0]?.status === "ONLINE",
      30_000,
      1000,
    );
    const created = await server.call("POST", "/v1/orgs/acme/sandboxes", {
      key: author,
      body: { source_vm: "debian-12", memory_mb: 768, ttl_seconds: 3600 },
    });
    expect(created.status).toBe(201);
    sandboxId = created.body.id;
    const run = await server.call("POST", `/v1/orgs/acme/sandboxes/${sandboxId}/run`, {
      key: author,
      body: { command: CHANGES, timeout_seconds: 300 },
    });
    expect(run.body, run.body.stderr).toMatchObject({ exit_code: 0 });
  });

  afterAll(async () => {
    await daemon?.dispose();
    await server?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("the diff lists each kind of change and none of the noise", async () => {
    const diff = await server.call("GET", `/v1/orgs/acme/sandboxes/${sandboxId}/diff`, { key: author });
    expect(diff.status).toBe(200);
    const seen = (kind: string, action: string, id: string) =>
      diff.body.changes.some(
        (c: { kind: string; action: string; path?: string; name?: string }) =>
          c.kind === kind && c.action === action && (c.path ?? c.name) === id,
      );
    expect(seen("file", "added", "/etc/demo/app.conf")).toBe(true);
    expect(seen("file", "changed", "/etc/motd")).toBe(true);
    expect(seen("file", "removed", "/etc/issue.net")).toBe(true);
    expect(seen("user", "added", "deploy")).toBe(true);
    expect(seen("unit", "added", "demo.service") || seen("unit", "changed", "demo.service")).toBe(true);
    expect(seen("cron", "added", "/etc/cron.d/demo")).toBe(true);
    expect(seen("sysctl", "added", "vm.swappiness") || seen("file", "added", "/etc/sysctl.d/60-demo.conf")).toBe(true);
    expect(seen("package", "removed", "tzdata")).toBe(true);
    const paths = diff.body.changes.map((c: { path?: string }) => c.path ?? "");
    expect(paths.filter((p: string) => /^\/(var\/log|var\/cache|var\/lib\/apt\/lists|tmp|run)\//.test(p))).toEqual([]);
    expect(paths).not.toContain("/root/.bash_history");
  });

  it("a change request carries the diff and a generated playbook that passes ansible's syntax check", async () => {
    const created = await server.call("POST", "/v1/orgs/acme/change-requests", {
      key: author,
      body: { sandbox_id: sandboxId, title: TITLE },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ state: "draft" });
    expect(created.body.diff_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(created.body.playbook_hash).toMatch(/^[0-9a-f]{64}$/);
    changeId = created.body.id;
    const shown = await server.call("GET", `/v1/orgs/acme/change-requests/${changeId}`, { key: author });
    const file = join(work, "generated.yml");
    await writeFile(file, shown.body.playbook);
    await keep("diff.json", shown.body.diff);
    await keep("playbook.yml", shown.body.playbook);
    const check = spawnSync("ansible-playbook", ["--syntax-check", "-i", "localhost,", file], { encoding: "utf8" });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  const verify = async (id: string) => {
    const started = await server.call("POST", `/v1/orgs/acme/change-requests/${id}/verify`, { key: author });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    let shown: { state: string; verification: Record<string, unknown> } | undefined;
    await until(
      async () => {
        shown = (await server.call("GET", `/v1/orgs/acme/change-requests/${id}`, { key: author })).body;
        return shown?.state === "verified" || shown?.state === "verification_failed";
      },
      900_000,
      1000,
    );
    return shown as { state: string; verification: Record<string, unknown> };
  };

  it("verification applies the playbook twice to a fresh clone: changes, then none, and the same diff", {
    timeout: 1_000_000,
  }, async () => {
    const verified = await verify(changeId);
    await keep("verification.json", verified.verification);
    expect(verified.verification).toMatchObject({ passed: true, second_run_changed: 0, equivalent: true });
    expect(verified.verification.first_run_changed).toBeGreaterThan(0);
    expect(verified.state).toBe("verified");
  });

  it("approval: self-approval refused, stale hashes refused", async () => {
    const shown = (await server.call("GET", `/v1/orgs/acme/change-requests/${changeId}`, { key: author })).body;
    const hashes = { diff_hash: shown.diff_hash, playbook_hash: shown.playbook_hash };
    const path = `/v1/orgs/acme/change-requests/${changeId}/approve`;
    expect((await server.call("POST", path, { key: author, body: hashes })).status).toBe(403);
    const stale = { ...hashes, playbook_hash: "0".repeat(64) };
    expect((await server.call("POST", path, { key: reviewer, body: stale })).status).toBe(409);
  });

  it.skipIf(!haveChromium)(
    haveChromium
      ? "a second admin reads the verified request in the dashboard and approves it there"
      : `a second admin approves in the dashboard (skipped: ${CHROMIUM} is not installed; scripts/test.sh installs it)`,
    { timeout: 120_000 },
    async () => {
      await approveInBrowser();
      const after = (await server.call("GET", `/v1/orgs/acme/change-requests/${changeId}`, { key: author })).body;
      expect(after.state).toBe("approved");
      expect(after.approvals).toMatchObject([{ decision: "approve", current: true }]);
    },
  );

  /** Signs the reviewer in with Chromium, opens the request from the list and presses Approve. */
  const approveInBrowser = async () => {
    // As root Chromium refuses its sandbox; the pages it loads here are our own.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${server.url}/sign-in`);
      await page.getByLabel("Email").fill(REVIEWER.email);
      await page.getByLabel("Password").fill(REVIEWER.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page
        .getByRole("navigation", { name: "Sections" })
        .getByRole("link", { name: "Change requests", exact: true })
        .click();
      await page.getByRole("link", { name: TITLE }).click();
      await page.getByText("Passed", { exact: true }).waitFor();
      const diff = page.getByRole("table", { name: "Changes to /etc/demo/app.conf" });
      await diff.locator("tr.diff-added", { hasText: "listen 8080" }).waitFor();
      await page.getByRole("button", { name: "Approve" }).click();
      await page
        .getByRole("list", { name: "Approvals and rejections" })
        .getByText("current", { exact: true })
        .waitFor();
      expect(await page.getByRole("alert").count()).toBe(0);
      await page.screenshot({ path: join(repoRoot, "docs/screenshots/change-request-approved.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  };

  it("editing the playbook after approval clears it; a broken playbook fails verification with a mismatch", {
    timeout: 1_000_000,
  }, async () => {
    const shown = (await server.call("GET", `/v1/orgs/acme/change-requests/${changeId}`, { key: author })).body;
    // Drop the task that writes the new config file: the clone then lacks a change the sandbox has.
    const broken = (shown.playbook as string).replace(
      /\n {4}- name: [^\n]*\/etc\/demo\/app\.conf[\s\S]*?(?=\n {4}- name: |\n\S|$)/,
      "",
    );
    expect(broken).not.toBe(shown.playbook);
    const edited = await server.call("PUT", `/v1/orgs/acme/change-requests/${changeId}/playbook`, {
      key: author,
      body: { yaml: broken },
    });
    expect(edited.status, JSON.stringify(edited.body)).toBe(200);
    expect(edited.body.state).toBe("draft");
    expect(edited.body.playbook_hash).not.toBe(shown.playbook_hash);
    const after = (await server.call("GET", `/v1/orgs/acme/change-requests/${changeId}`, { key: author })).body;
    expect(after.verification).toBeNull();
    expect(after.approvals.filter((a: { current?: boolean }) => a.current !== false)).toEqual([]);

    const failed = await verify(changeId);
    await keep("verification-broken.json", failed.verification);
    expect(failed.state).toBe("verification_failed");
    expect(failed.verification).toMatchObject({ passed: false, equivalent: false });
    expect(JSON.stringify(failed.verification.mismatches)).toContain("/etc/demo/app.conf");
  });

  it("the audit chain records the review and verifies", async () => {
    const valid = await server.call("GET", "/v1/orgs/acme/audit/verify", { key: author });
    expect(valid.status).toBe(200);
    expect(valid.body.valid).toBe(true);
    expect(valid.body.events).toBeGreaterThan(5);
  });

  it.skipIf(!process.env.FLUID_TEST_DATABASE_URL)(
    "the audit chain fails to verify once a row is altered in SQL (skipped without PostgreSQL: PGlite is held by the server)",
    async () => {
      await server.sql("UPDATE audit_events SET details = '{\"tampered\":true}' WHERE seq = 2");
      const invalid = await server.call("GET", "/v1/orgs/acme/audit/verify", { key: author });
      expect(invalid.body.valid).toBe(false);
    },
  );
});
