import { afterAll, beforeAll, expect } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./connected-host.js";
import type { TestServerProcess } from "./server.js";

/** A connected host with one running tiny sandbox of org `acme` on it. */
export interface TinySandbox {
  host: ConnectedHost;
  server: TestServerProcess;
  /** An admin API key of `acme`. */
  key: string;
  /** The sandbox's id. */
  id: string;
}

/**
 * Registers the hooks of a test file whose tests share one tiny sandbox: created before them, destroyed (and the
 * host stopped) after them. The fields are set in beforeAll, so read them inside tests only.
 */
export function useTinySandbox(): TinySandbox {
  const tiny = {} as TinySandbox;
  beforeAll(async () => {
    tiny.host = await startConnectedHost();
    ({ server: tiny.server, key: tiny.key } = tiny.host);
    const created = await tiny.server.call("POST", "/v1/orgs/acme/sandboxes", {
      key: tiny.key,
      body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 900 },
    });
    expect(created.status).toBe(201);
    tiny.id = created.body.id;
  });
  afterAll(async () => {
    if (tiny.id) {
      await tiny.server?.call("DELETE", `/v1/orgs/acme/sandboxes/${tiny.id}`, { key: tiny.key }).catch(() => undefined);
    }
    await tiny.host?.dispose();
  });
  return tiny;
}
