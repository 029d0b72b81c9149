import { randomBytes } from "node:crypto";
import { type Caller, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

describe.each(databaseKinds)("source hosts (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;

  const create = (as: Caller, slug = "acme", body: Record<string, unknown> = {}) =>
    t.call("POST", `/v1/orgs/${slug}/source-hosts`, {
      as,
      body: {
        type: "libvirt",
        name: "kvm-1",
        hostname: "10.0.0.5",
        ssh_user: "ops",
        ssh_private_key: privateKey,
        ...body,
      },
    });

  beforeEach(async () => {
    t = await startTestServer(kind, { encryptionKey: randomBytes(32) });
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
  });

  afterEach(() => t.close());

  it("stores the SSH key encrypted and never returns it", async () => {
    const res = await create(owner);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "kvm-1",
      type: "libvirt",
      ssh_port: 22,
      ssh_user: "ops",
      has_ssh_private_key: true,
    });
    expect(JSON.stringify(res.body)).not.toContain("OPENSSH");
    const row = await t.server.ctx.db.selectFrom("source_hosts").selectAll().executeTakeFirstOrThrow();
    expect(row.ssh_private_key).toMatch(/^v1:/);
    expect(row.ssh_private_key).not.toContain("OPENSSH");
    expect(t.server.ctx.secrets.open(row.ssh_private_key ?? "", `source_hosts.ssh_private_key:${row.id}`)).toBe(
      privateKey,
    );
    const list = await t.call("GET", "/v1/orgs/acme/source-hosts", { as: owner });
    expect(JSON.stringify(list.body)).not.toContain("OPENSSH");
    expect(list.body.count).toBe(1);
  });

  it("proxmox-secret-encrypted-at-rest-and-in-transit: the Proxmox secret is sealed and hidden", async () => {
    const res = await create(owner, "acme", {
      type: "proxmox",
      name: "pve",
      hostname: "pve.internal",
      proxmox_token_id: "root@pam!fluid",
      proxmox_secret: "11111111-2222-3333-4444-555555555555",
      proxmox_node: "pve1",
      ssh_user: undefined,
      ssh_private_key: undefined,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: "proxmox", has_proxmox_secret: true, proxmox_token_id: "root@pam!fluid" });
    const row = await t.server.ctx.db.selectFrom("source_hosts").selectAll().executeTakeFirstOrThrow();
    expect(row.proxmox_secret).not.toContain("11111111");
  });

  it("encryption-key-required-when-secrets-stored: without a key credentials are refused, not stored in plaintext", async () => {
    await t.close();
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
    const res = await create(owner);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/FLUID_ENCRYPTION_KEY/);
    expect(await t.server.ctx.db.selectFrom("source_hosts").select("id").execute()).toHaveLength(0);
  });

  it("rejects malformed input", async () => {
    expect((await create(owner, "acme", { hostname: "bad host; rm -rf /" })).status).toBe(400);
    expect((await create(owner, "acme", { ssh_private_key: "not a key" })).status).toBe(400);
    expect((await create(owner, "acme", { ssh_user: "Root User" })).status).toBe(400);
    expect((await create(owner, "acme", { type: "vmware" })).status).toBe(400);
    expect((await create(owner, "acme", { ssh_host_key: "not a key" })).status).toBe(400);
    expect((await create(owner, "acme", { ssh_host_key: "ssh-ed25519 AAAA\nssh-ed25519 $(id)" })).status).toBe(400);
  });

  it("takes host keys as ssh-keyscan prints them and returns them", async () => {
    const keys = "[10.0.0.5]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr7\n# comment\n10.0.0.5 ssh-rsa AAAAB3Nza==\n";
    const created = await create(owner, "acme", { name: "pinned", ssh_host_key: keys });
    expect(created.status).toBe(201);
    expect(created.body.ssh_host_key).toBe(keys);
  });

  it("duplicate names in one org conflict", async () => {
    await create(owner);
    expect((await create(owner)).status).toBe(409);
  });

  it("members can read but not add or delete source hosts", async () => {
    const member = await t.user("member@example.com");
    await t.member(owner, "acme", member, "member");
    const created = await create(owner);
    expect((await create(member, "acme", { name: "kvm-2" })).status).toBe(403);
    expect((await t.call("GET", `/v1/orgs/acme/source-hosts/${created.body.id}`, { as: member })).status).toBe(200);
    expect((await t.call("DELETE", `/v1/orgs/acme/source-hosts/${created.body.id}`, { as: member })).status).toBe(403);
    expect((await t.call("DELETE", `/v1/orgs/acme/source-hosts/${created.body.id}`, { as: owner })).status).toBe(200);
  });

  it("delete-source-host-scoped-to-org: another org's admin cannot see or delete it", async () => {
    const created = await create(owner);
    const other = await t.user("other@example.com");
    await t.org(other, "globex");
    expect((await t.call("GET", `/v1/orgs/globex/source-hosts/${created.body.id}`, { as: other })).status).toBe(404);
    expect((await t.call("DELETE", `/v1/orgs/globex/source-hosts/${created.body.id}`, { as: other })).status).toBe(404);
    expect((await t.call("DELETE", `/v1/orgs/acme/source-hosts/${created.body.id}`, { as: other })).status).toBe(404);
    expect((await t.call("GET", "/v1/orgs/globex/source-hosts", { as: other })).body.count).toBe(0);
    expect(await t.server.ctx.db.selectFrom("source_hosts").select("id").execute()).toHaveLength(1);
  });
});
