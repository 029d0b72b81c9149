import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type TestDaemonProcess } from "./lib/daemon.js";
import { freePort } from "./lib/processes.js";
import { startServer, type TestServerProcess } from "./lib/server.js";
import { until } from "./lib/wait.js";

function openssl(cwd: string, ...args: string[]): void {
  const run = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr}`);
}

/** A CA (ca.pem, ca.key) in `dir`, made with the openssl CLI as an operator would. */
function makeCa(dir: string, prefix: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${prefix}.key`,
    "-out",
    `${prefix}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=fluid test ${prefix}`,
  );
}

/** The control plane's certificate for 127.0.0.1 and localhost, signed by the CA `ca`. */
async function makeServerCert(dir: string, ca: string): Promise<void> {
  await writeFile(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
  );
  openssl(
    dir,
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
}

const scrape = async (url: string) => (await fetch(url)).text();
const sampled = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);

describe("TLS on the host stream with a private CA (real fluid-server and fluid-daemon, no VM)", () => {
  let dir: string;
  let server: TestServerProcess;
  let key: string;
  const daemons: TestDaemonProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-e2e-tls-"));
    makeCa(dir, "ca");
    makeCa(dir, "other-ca");
    await makeServerCert(dir, "ca");
    server = await startServer({ tls: { cert: join(dir, "server.pem"), key: join(dir, "server.key") } });
    ({ key } = await server.bootstrap("acme"));
  });

  afterAll(async () => {
    for (const daemon of daemons.splice(0)) await daemon.dispose();
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const hostToken = async (name: string) => {
    const token = await server.call("POST", "/v1/orgs/acme/hosts/tokens", { key, body: { name } });
    expect(token.status).toBe(201);
    return token.body as { id: string; token: string };
  };

  const hostStatus = async (id: string) =>
    (await server.call("GET", `/v1/orgs/acme/hosts/${id}`, { key })).body?.status as string | undefined;

  const daemon = async (name: string, args: string[]) => {
    const token = await hostToken(name);
    const started = await startDaemon({
      extraArgs: ["--server", server.grpc, "--token", token.token, ...args],
    });
    daemons.push(started);
    return { daemon: started, hostId: token.id };
  };

  it("a daemon given the CA with --ca-file registers over TLS", async () => {
    const metricsPort = await freePort();
    const { hostId } = await daemon("trusting", [
      "--ca-file",
      join(dir, "ca.pem"),
      "--metrics-listen",
      `127.0.0.1:${metricsPort}`,
    ]);
    await until(async () => (await hostStatus(hostId)) === "ONLINE");
    await until(
      async () =>
        sampled(await scrape(`http://127.0.0.1:${metricsPort}/metrics`), "fluid_daemon_stream_connected") === 1,
    );
    expect(sampled(await scrape(`${server.url}/metrics`), "fluid_host_streams")).toBe(1);
  });

  it("a daemon without --ca-file (and without --insecure) is refused with a certificate error and never registers", async () => {
    const { daemon: refused, hostId } = await daemon("untrusting", []);
    await until(() => /control plane's TLS certificate is not trusted/.test(refused.process.output()));
    const output = refused.process.output();
    expect(output).toMatch(/--ca-file/);
    expect(output).toMatch(/unable to verify the first certificate/);
    expect(await hostStatus(hostId)).not.toBe("ONLINE");
    expect(refused.process.child.exitCode).toBeNull();
  });

  it("a daemon trusting a different CA is refused the same way", async () => {
    const { daemon: refused, hostId } = await daemon("wrong-ca", ["--ca-file", join(dir, "other-ca.pem")]);
    await until(() => /control plane's TLS certificate is not trusted/.test(refused.process.output()));
    expect(await hostStatus(hostId)).not.toBe("ONLINE");
  });
});
