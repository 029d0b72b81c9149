import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import pino, { type Logger } from "pino";
import { ApplyAccess } from "../apply/access.js";
import { runApplyPlaybook } from "../apply/playbook-run.js";
import {
  checkMetricsToken,
  checkPath,
  defaultImageDir,
  defaultStateDir,
  parseAccel,
  parseMetricsListen,
  parseTcgCacheMb,
  parseWarmPool,
} from "../config.js";
import { ImageStore } from "../images/store.js";
import { buildLocalApi, listenOnSocket } from "../local/api.js";
import { isLoopback, listenForMetrics } from "../metrics/listener.js";
import { DaemonMetrics } from "../metrics/metrics.js";
import { NetworkManager } from "../network/manager.js";
import { type Endpoint, nameserverFromResolvConf, parseEndpoint } from "../network/resolver.js";
import { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import { sandboxDefaults } from "../sandboxes/defaults.js";
import { SandboxManager } from "../sandboxes/manager.js";
import { WarmPool } from "../sandboxes/pool.js";
import { SourceHosts } from "../sources/source-host.js";
import { VmAccess } from "../sources/vm-access.js";
import { openDaemonDatabase } from "../state/database.js";
import { liveSandboxNetworks } from "../state/live-sandboxes.js";
import { sqliteLeaseStore } from "../state/sqlite-leases.js";
import { StreamClient } from "../stream/client.js";
import { parseServerList } from "../stream/server-list.js";
import { hostCapacity } from "../system/resources.js";
import { decideAccel, tscKhz } from "../vm/accel.js";
import { DEFAULT_TCG_CACHE_MB } from "../vm/qemu.js";

interface RunOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
  insecure?: boolean;
  caFile?: string;
  stateDir: string;
  imageDir: string;
  accel: string;
  tcgCacheMb: string;
  machine: string;
  socket?: string;
  network: string;
  bridge: string;
  subnet: string;
  logLevel: string;
  cleanupNetwork?: boolean;
  egressDnsUpstream?: string;
  warmPool: string;
  metricsListen?: string;
  metricsToken?: string;
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description(
      "run the sandbox host: connected to a control plane with --server, otherwise standalone on a unix socket",
    )
    .option(
      "--server <host:port,...>",
      "control plane gRPC address, or several replicas comma-separated (a name may resolve to several); omit for standalone mode",
    )
    .option("--token <token>", "host token (prefer FLUID_HOST_TOKEN or --token-file: arguments are visible in ps)")
    .option("--token-file <file>", "read the host token from a file")
    .option("--insecure", "plaintext gRPC to the control plane (loopback and tests only)")
    .option("--ca-file <file>", "CA certificate that signed the control plane's TLS certificate")
    .option("--state-dir <dir>", "sandbox overlays, snapshots and state database", defaultStateDir())
    .option("--image-dir <dir>", "guest images (shared with `image build`)", defaultImageDir())
    .option("--accel <auto|kvm|tcg>", "acceleration; auto picks TCG when KVM cannot run ordinary guests", "auto")
    .option(
      "--tcg-cache-mb <MiB>",
      "TCG translation cache per VM: host memory per sandbox vs re-translation time (docs/benchmarks.md)",
      String(DEFAULT_TCG_CACHE_MB),
    )
    .option("--machine <microvm|q35>", "QEMU machine type (q35 for images that cannot boot on microvm)", "microvm")
    .option("--socket <path>", "local API socket (default <state-dir>/daemon.sock)")
    .option("--network <auto|bridge|user>", "sandbox networking: bridge+TAP (root), QEMU user mode, or pick", "auto")
    .option("--bridge <name>", "bridge for sandbox TAPs", "fluid0")
    .option("--subnet <cidr>", "sandbox address range", "10.91.0.0/24")
    .option("--cleanup-network", "on exit remove the bridge and firewall tables (sandboxes lose their network)")
    .option(
      "--egress-dns-upstream <host[:port]>",
      "resolver that allowlisted names in sandbox egress are looked up at (default: the first nameserver in /etc/resolv.conf)",
    )
    .option(
      "--warm-pool <image=count,...>",
      "pre-booted, paused sandboxes kept per image (image=count[:VCPUSxMEMORY_MB], default shape 1x512); they hold their memory",
      "",
    )
    .option(
      "--metrics-listen <host:port>",
      "serve Prometheus metrics at http://HOST:PORT/metrics (loopback clients only unless --metrics-token)",
    )
    .option("--metrics-token <token>", "bearer token /metrics requires (prefer FLUID_METRICS_TOKEN)")
    .option("--log-level <level>", "trace|debug|info|warn|error", "info")
    .action(async (options: RunOptions) => {
      await runDaemon(options);
    });
}

/** Where the bridge's egress resolver forwards allowlisted names; none found means names open nothing. */
async function egressResolver(
  flag: string | undefined,
  log: Pick<Logger, "warn">,
): Promise<{ resolver?: { upstream: Endpoint } }> {
  if (flag !== undefined) return { resolver: { upstream: parseEndpoint(flag) } };
  const upstream = nameserverFromResolvConf(await readFile("/etc/resolv.conf", "utf8").catch(() => ""));
  if (!upstream) log.warn("no IPv4 nameserver in /etc/resolv.conf: DNS names in egress allowlists open nothing");
  return upstream ? { resolver: { upstream } } : {};
}

async function runDaemon(options: RunOptions): Promise<void> {
  const log = pino({ level: options.logLevel, base: { service: "fluid-daemon" } });
  const stateDir = checkPath("--state-dir", options.stateDir);
  const imageDir = checkPath("--image-dir", options.imageDir);
  if (options.machine !== "microvm" && options.machine !== "q35") throw new Error("--machine must be microvm or q35");
  const servers = options.server === undefined ? undefined : parseServerList(options.server);
  const token =
    options.token ??
    process.env.FLUID_HOST_TOKEN ??
    (options.tokenFile ? (await readFile(options.tokenFile, "utf8")).trim() : undefined);
  if (servers && !token) throw new Error("--server needs a host token (--token, --token-file or FLUID_HOST_TOKEN)");
  const metricsListen = options.metricsListen ? parseMetricsListen(options.metricsListen) : undefined;
  const metricsTokenText = options.metricsToken ?? (process.env.FLUID_METRICS_TOKEN || undefined);
  const metricsToken = metricsTokenText === undefined ? undefined : checkMetricsToken(metricsTokenText);

  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
  const accel = await decideAccel(parseAccel(options.accel), cpuinfo);
  log.info({ accel: accel.accel, reason: accel.reason }, "acceleration chosen");

  const database = await openDaemonDatabase(join(stateDir, "state.db"));
  const images = new ImageStore(imageDir);
  if (!["auto", "bridge", "user"].includes(options.network)) throw new Error("--network must be auto, bridge or user");
  const warmPoolSizes = parseWarmPool(options.warmPool, sandboxDefaults);
  const network = await NetworkManager.start({
    mode: options.network as "auto" | "bridge" | "user",
    bridge: options.bridge,
    subnet: options.subnet,
    ...(await egressResolver(options.egressDnsUpstream, log)),
    leases: sqliteLeaseStore(database.sqlite),
    recovered: await liveSandboxNetworks(database.db),
    log,
  });
  const capacity = await hostCapacity(stateDir);
  const sshCa = await loadOrCreateCa(join(stateDir, "ssh_ca.pem"));
  const sourceHosts = new SourceHosts({ stateDir, images });
  const vmAccess = new VmAccess({ ca: sshCa, knownHostsFile: sourceHosts.knownHostsFile });
  const applyAccess = new ApplyAccess({ ca: sshCa, access: vmAccess, execute: runApplyPlaybook });
  let stream: StreamClient | undefined;
  const metrics: DaemonMetrics = new DaemonMetrics({
    sandboxStates: async () => {
      const counts: Record<string, number> = {};
      for (const row of await manager.list()) counts[row.state] = (counts[row.state] ?? 0) + 1;
      return counts;
    },
    usage: async () => {
      const now = await hostCapacity(stateDir);
      return {
        cpus: now.totalCpus,
        allocatableMemoryMb: now.allocatableMemoryMb,
        committedMemoryMb: await manager.committedMemoryMb(),
        totalDiskMb: now.totalDiskMb,
        availableDiskMb: now.availableDiskMb,
      };
    },
    ...(options.server ? { streamConnected: () => stream?.registered ?? false } : {}),
  });
  const manager: SandboxManager = new SandboxManager({
    db: database.db,
    images: images,
    network,
    log,
    stateDir,
    accel: accel.accel,
    tscKhz: tscKhz(cpuinfo),
    tcgCacheMb: parseTcgCacheMb(options.tcgCacheMb),
    machine: options.machine,
    allocatableMemoryMb: capacity.allocatableMemoryMb,
    onEvent: (event) => stream?.report(event),
    sshCa,
    observe: metrics,
  });

  const recovered = await manager.recover();
  log.info(recovered, "recovered state from the previous run");
  const pool = new WarmPool({ sizes: warmPoolSizes, sandboxes: manager, images, log });
  manager.usePool(pool);
  await pool.start();

  const timers = [
    setInterval(() => manager.reapExpired().catch((err: unknown) => log.error({ err }, "janitor pass failed")), 5_000),
    setInterval(() => manager.detectCrashes().catch((err: unknown) => log.error({ err }, "crash check failed")), 2_000),
  ];

  const controlPlane = options.server && token ? { registered: () => stream?.registered ?? false } : undefined;
  const api = buildLocalApi({ manager, images: images, log, pool, controlPlane });
  const socket = options.socket ? checkPath("--socket", options.socket) : join(stateDir, "daemon.sock");
  await listenOnSocket(api, socket);
  log.info({ socket }, "local API listening");
  const metricsServer = metricsListen
    ? await listenForMetrics(metrics.registry, metricsListen, metricsToken)
    : undefined;
  const metricsAddress = metricsServer?.address();
  if (metricsAddress && typeof metricsAddress === "object") {
    log.info({ address: metricsAddress.address, port: metricsAddress.port }, "metrics listening");
    if (!metricsToken && !isLoopback(metricsAddress.address)) {
      log.warn("metrics listen beyond loopback without --metrics-token: only loopback clients will be answered");
    }
  }

  let running: Promise<void> | undefined;
  if (servers && token) {
    stream = new StreamClient({
      servers,
      token,
      insecure: options.insecure ?? false,
      caFile: options.caFile,
      stateDir,
      manager,
      images: images,
      log,
      sources: { hosts: sourceHosts, access: vmAccess, apply: applyAccess },
      onCommand: (kind, outcome) => metrics.commandHandled(kind, outcome),
    });
    running = stream.run();
  }
  process.stdout.write(
    `fluid-daemon ready: ${servers ? `connecting to ${servers.map((s) => s.entry).join(", ")}` : "standalone"}, socket ${socket}\n`,
  );

  const shutdown = async (signal: string) => {
    log.info({ signal }, "shutting down; sandboxes keep running");
    for (const timer of timers) clearInterval(timer);
    stream?.stop();
    await api.close();
    metricsServer?.close();
    await running;
    await pool.stop();
    await vmAccess.close();
    manager.close();
    await network.shutdown({ teardown: options.cleanupNetwork ?? false });
    await database.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
}

/** The host's SSH CA key: created once (0600) and kept in the state directory. */
async function loadOrCreateCa(path: string): Promise<SshCertificateAuthority> {
  try {
    return SshCertificateAuthority.fromPem(await readFile(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const ca = SshCertificateAuthority.generate();
    await writeFile(path, ca.toPem(), { mode: 0o600, flag: "wx" });
    return ca;
  }
}
