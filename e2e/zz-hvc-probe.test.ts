import { afterAll, beforeAll, expect, it } from "vitest";
import { type ConnectedHost, startConnectedHost } from "./lib/connected-host.js";

let host: ConnectedHost;
let id: string;
beforeAll(async () => {
  host = await startConnectedHost();
  const created = await host.server.call("POST", "/v1/orgs/acme/sandboxes", {
    key: host.key,
    body: { source_vm: "tiny", memory_mb: 256, ttl_seconds: 900 },
  });
  id = created.body.id;
});
afterAll(async () => {
  if (id) await host.server.call("DELETE", `/v1/orgs/acme/sandboxes/${id}`, { key: host.key }).catch(() => undefined);
  await host?.dispose();
});
it("probe", async () => {
  const res = await host.server.call("POST", `/v1/orgs/acme/sandboxes/${id}/run`, {
    key: host.key,
    body: { command: "ls -l /dev/hvc* /sys/class/virtio-ports/; for f in /sys/class/virtio-ports/*/name; do echo $f; cat $f; done; cat /proc/cmdline; ls /bin/bash /bin/sh; ps; /fluid/busybox setsid --help 2>&1 | head -5; ls /sys/class/tty | grep hvc; for d in /sys/class/virtio-ports/*; do ls $d; done" },
  });
  console.log(JSON.stringify(res.body, null, 1));
  expect(res.status).toBe(200);
}, 300_000);
