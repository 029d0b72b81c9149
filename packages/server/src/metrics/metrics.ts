import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { FleetStats, HostResources } from "./fleet-stats.js";

/** How a host command ended, as a bounded label. */
export type CommandOutcome = "ok" | "host_error" | "timeout" | "stream_closed";

/** Called when a command is sent; the returned function is called once with its outcome. */
export type CommandObserver = (kind: string) => (outcome: CommandOutcome) => void;

export interface StreamStats {
  sessions: number;
  inFlight: number;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SLOW_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const SANDBOX_STATES = ["CREATING", "RUNNING", "STOPPED", "DESTROYED", "ERROR"] as const;

/**
 * The control plane's Prometheus registry: every series it exports is declared here, and the rest of
 * the server only calls these methods. Labels stay bounded: route templates, status classes,
 * command kinds, states and host ids; never sandbox ids, org slugs or raw URLs.
 */
/**
 * Process metrics exist once per process: their collectors keep timers and GC observers, so every
 * server started in one process (tests start hundreds) shares this registry instead of adding more.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class ServerMetrics {
  /** This server's series plus the process metrics: what /metrics serves. */
  readonly registry: Registry;
  private readonly own = new Registry();
  private readonly http: Histogram<"method" | "route" | "status_class">;
  private readonly hostCommands: Histogram<"kind" | "outcome">;
  private readonly creates: Histogram<"outcome">;
  private readonly execs: Histogram<"outcome">;

  constructor(sources: { streams: () => StreamStats; fleet: FleetStats }) {
    const registers = [this.own];
    this.http = new Histogram({
      name: "fluid_http_request_duration_seconds",
      help: "REST request latency by route template and status class",
      labelNames: ["method", "route", "status_class"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.hostCommands = new Histogram({
      name: "fluid_host_command_duration_seconds",
      help: "Time from sending a command to a host until its outcome",
      labelNames: ["kind", "outcome"],
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.creates = new Histogram({
      name: "fluid_sandbox_create_duration_seconds",
      help: "Sandbox creation from the request to RUNNING or failure",
      labelNames: ["outcome"],
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.execs = new Histogram({
      name: "fluid_sandbox_exec_duration_seconds",
      help: "Command execution in a sandbox, as the API caller waits for it",
      labelNames: ["outcome"],
      buckets: SLOW_BUCKETS,
      registers,
    });
    new Gauge({
      name: "fluid_host_streams",
      help: "Open host streams on this replica",
      registers,
      collect() {
        this.set(sources.streams().sessions);
      },
    });
    new Gauge({
      name: "fluid_host_commands_in_flight",
      help: "Commands sent to hosts on this replica and awaiting their outcome",
      registers,
      collect() {
        this.set(sources.streams().inFlight);
      },
    });
    new Gauge({
      name: "fluid_sandboxes",
      help: "Sandboxes not yet ended, by state (all orgs)",
      labelNames: ["state"],
      registers,
      async collect() {
        const fleet = await sources.fleet.read();
        this.reset();
        if (!fleet) return;
        for (const state of SANDBOX_STATES) this.set({ state }, fleet.sandboxes[state] ?? 0);
      },
    });
    this.hostGauge("fluid_host_cpus", "CPUs a host has", (h) => h.totalCpus, sources.fleet);
    this.hostGauge("fluid_host_cpus_available", "CPUs a host reports free", (h) => h.availableCpus, sources.fleet);
    this.hostGauge("fluid_host_memory_bytes", "Memory a host has", (h) => h.totalMemoryMb * 2 ** 20, sources.fleet);
    this.hostGauge(
      "fluid_host_memory_available_bytes",
      "Memory a host reports free",
      (h) => h.availableMemoryMb * 2 ** 20,
      sources.fleet,
    );
    this.hostGauge("fluid_host_sandboxes", "Sandboxes a host reports running", (h) => h.sandboxes, sources.fleet);
    this.hostGauge("fluid_host_online", "1 while a host is ONLINE", (h) => (h.online ? 1 : 0), sources.fleet);
    this.registry = Registry.merge([processMetrics(), this.own]);
  }

  private hostGauge(name: string, help: string, value: (host: HostResources) => number, fleet: FleetStats): void {
    new Gauge({
      name,
      help,
      labelNames: ["host_id"],
      registers: [this.own],
      async collect() {
        const stats = await fleet.read();
        // Reset first so a deleted host's series disappears instead of keeping its last value.
        this.reset();
        for (const host of stats?.hosts ?? []) this.set({ host_id: host.id }, value(host));
      },
    });
  }

  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    this.http.observe({ method, route, status_class: `${Math.floor(statusCode / 100)}xx` }, seconds);
  }

  readonly observeHostCommand: CommandObserver = (kind) => {
    const end = this.hostCommands.startTimer({ kind });
    return (outcome) => {
      end({ outcome });
    };
  };

  /** Times a sandbox creation or command execution by whether it succeeded. */
  time<T>(what: "create" | "exec", work: Promise<T>): Promise<T> {
    const end = (what === "create" ? this.creates : this.execs).startTimer();
    work.then(
      () => end({ outcome: "ok" }),
      () => end({ outcome: "error" }),
    );
    return work;
  }
}
