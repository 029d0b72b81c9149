import { type Caller, databaseKinds, startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SOME_ID = "00000000-0000-4000-8000-000000000000";
const PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const NUL = "a\u0000b";
/** JSON.stringify writes this as `"\ud800"`: a half of a UTF-16 pair with no partner. */
const LONE_SURROGATE = "a\ud800b";

/** Every free-text input field, as [label, method, path, field, body with the field set to `value`]. */
const fields: [string, string, string, string, (value: string) => Record<string, unknown>][] = [
  [
    "register display_name",
    "POST",
    "/v1/auth/register",
    "display_name",
    (v) => ({
      email: "nul@example.com",
      password: "correct horse battery",
      display_name: v,
    }),
  ],
  ["create org name", "POST", "/v1/orgs", "name", (v) => ({ name: v })],
  ["update org name", "PATCH", "/v1/orgs/acme", "name", (v) => ({ name: v })],
  ["api key name", "POST", "/v1/orgs/acme/api-keys", "name", (v) => ({ name: v })],
  ["host token name", "POST", "/v1/orgs/acme/hosts/tokens", "name", (v) => ({ name: v })],
  ["sandbox agent_id", "POST", "/v1/orgs/acme/sandboxes", "agent_id", (v) => ({ source_vm: "base", agent_id: v })],
  ["sandbox run command", "POST", `/v1/orgs/acme/sandboxes/${SOME_ID}/run`, "command", (v) => ({ command: v })],
  [
    "sandbox run env value",
    "POST",
    `/v1/orgs/acme/sandboxes/${SOME_ID}/run`,
    "env.X",
    (v) => ({
      command: "env",
      env: { X: v },
    }),
  ],
  [
    "sandbox file path",
    "PUT",
    `/v1/orgs/acme/sandboxes/${SOME_ID}/files`,
    "path",
    (v) => ({
      path: `/tmp/${v}`,
      content_base64: "",
    }),
  ],
  [
    "source run command",
    "POST",
    `/v1/orgs/acme/source-hosts/${SOME_ID}/vms/web1/run`,
    "command",
    (v) => ({
      command: v,
    }),
  ],
  [
    "source prepare key",
    "POST",
    `/v1/orgs/acme/source-hosts/${SOME_ID}/vms/web1/prepare`,
    "ssh_private_key",
    (v) => ({
      ssh_private_key: `${PEM}${v}`,
    }),
  ],
  [
    "source inspect path",
    "POST",
    `/v1/orgs/acme/source-hosts/${SOME_ID}/vms/web1/inspect`,
    "path",
    (v) => ({
      kind: "stat",
      path: `/etc/${v}`,
    }),
  ],
  [
    "libvirt host key",
    "POST",
    "/v1/orgs/acme/source-hosts",
    "ssh_host_key",
    (v) => ({
      type: "libvirt",
      name: "kvm1",
      hostname: "kvm1.example",
      ssh_host_key: `ssh-ed25519 AAAA ${v}`,
    }),
  ],
  [
    "libvirt private key",
    "POST",
    "/v1/orgs/acme/source-hosts",
    "ssh_private_key",
    (v) => ({
      type: "libvirt",
      name: "kvm1",
      hostname: "kvm1.example",
      ssh_private_key: PEM.replace("AAAA", `AAAA${v}`),
    }),
  ],
  ...(["proxmox_token_id", "proxmox_secret", "proxmox_node"] as const).map(
    (field): [string, string, string, string, (value: string) => Record<string, unknown>] => [
      `proxmox ${field}`,
      "POST",
      "/v1/orgs/acme/source-hosts",
      field,
      (v) => ({
        type: "proxmox",
        name: "pve1",
        hostname: "pve1.example",
        proxmox_token_id: "root@pam!fluid",
        proxmox_secret: "secret",
        proxmox_node: "pve1",
        [field]: v,
      }),
    ],
  ),
];

describe.each(databaseKinds)("free-text fields (%s)", (kind) => {
  let t: TestServer;
  let owner: Caller;

  beforeAll(async () => {
    t = await startTestServer(kind);
    owner = await t.user("owner@example.com");
    await t.org(owner, "acme");
  });
  afterAll(() => t?.close());

  describe.each([
    ["a NUL byte", NUL],
    ["a lone surrogate", LONE_SURROGATE],
  ])("%s", (_, value) => {
    it.each(fields)(
      "in the %s is 400 invalid_request naming the field, not a 500",
      async (_, method, path, field, body) => {
        const response = await t.call(method, path, { as: owner, body: body(value) });
        expect(response.status).toBe(400);
        expect(response.body.error.code).toBe("invalid_request");
        expect(response.body.error.message).toContain(
          `body.${field}: contains characters that cannot be stored (NUL or a lone surrogate)`,
        );
      },
    );
  });

  it("non-ASCII text (accents, emoji, CJK) is still stored and returned unchanged", async () => {
    const name = "Zoë 🚀 山田組";
    const created = await t.call("POST", "/v1/orgs", { as: owner, body: { name, slug: "unicode" } });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe(name);
    const renamed = await t.call("PATCH", "/v1/orgs/unicode", { as: owner, body: { name: `${name} 2` } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe(`${name} 2`);
    const key = await t.call("POST", "/v1/orgs/unicode/api-keys", { as: owner, body: { name: "鍵 🔑" } });
    expect(key.status).toBe(201);
    expect(key.body.name).toBe("鍵 🔑");
    const token = await t.call("POST", "/v1/orgs/unicode/hosts/tokens", { as: owner, body: { name: "ホスト 🖥" } });
    expect(token.status).toBe(201);
    expect(token.body.name).toBe("ホスト 🖥");
  });
});
