import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** What the sandbox modules report as they work; the manager takes it as an option. */
export interface SandboxObserver {
  /** A VM launched and its guest agent answered, `seconds` later; `resume` when RAM came from a snapshot. */
  booted(seconds: number, from: "cold" | "resume"): void;
  executed(seconds: number, outcome: "ok" | "error"): void;
}

export interface HostUsage {
  cpus: number;
  allocatableMemoryMb: number;
  committedMemoryMb: number;
  totalDiskMb: number;
  availableDiskMb: number;
}

export interface DaemonMetricSources {
  /** Live sandboxes by state (warm-pool entries excluded). */
  sandboxStates(): Promise<Record<string, number>>;
  usage(): Promise<HostUsage>;
  /** Whether the control-plane stream is registered; absent in standalone mode (and so is the series). */
  streamConnected?: () => boolean;
}

const BOOT_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120];
const EXEC_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const STATES = ["CREATING", "RUNNING", "STOPPED", "DESTROYED", "ERROR"] as const;
const MB = 2 ** 20;

/**
 * The sandbox host's Prometheus registry: every series it exports is declared here. Labels stay
 * bounded (states, command kinds, outcomes); sandbox ids never become labels.
 */
export class DaemonMetrics implements SandboxObserver {
  readonly registry = new Registry();
  private readonly boots: Histogram<"from">;
  private readonly execs: Histogram<"outcome">;
  private readonly commands: Counter<"kind" | "outcome">;

  constructor(sources: DaemonMetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.boots = new Histogram({
      name: "fluid_daemon_boot_to_agent_seconds",
      help: "From QEMU launch until the guest agent answers",
      labelNames: ["from"],
      buckets: BOOT_BUCKETS,
      registers,
    });
    this.execs = new Histogram({
      name: "fluid_daemon_exec_duration_seconds",
      help: "Commands run in sandboxes through the guest agent",
      labelNames: ["outcome"],
      buckets: EXEC_BUCKETS,
      registers,
    });
    this.commands = new Counter({
      name: "fluid_daemon_commands_total",
      help: "Control-plane commands handled, by kind and outcome",
      labelNames: ["kind", "outcome"],
      registers,
    });
    new Gauge({
      name: "fluid_daemon_sandboxes",
      help: "Sandboxes on this host by state (warm-pool entries excluded)",
      labelNames: ["state"],
      registers,
      async collect() {
        const counts = await sources.sandboxStates();
        for (const state of STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    const usage = memoised(() => sources.usage());
    const usageGauge = (name: string, help: string, value: (u: HostUsage) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(value(await usage()));
        },
      });
    usageGauge("fluid_daemon_cpus", "CPUs this host offers", (u) => u.cpus);
    usageGauge("fluid_daemon_memory_allocatable_bytes", "Memory sandboxes may take", (u) => u.allocatableMemoryMb * MB);
    usageGauge("fluid_daemon_memory_committed_bytes", "Memory committed to sandboxes", (u) => u.committedMemoryMb * MB);
    usageGauge("fluid_daemon_disk_bytes", "Size of the state directory's filesystem", (u) => u.totalDiskMb * MB);
    usageGauge(
      "fluid_daemon_disk_available_bytes",
      "Free space for the state directory",
      (u) => u.availableDiskMb * MB,
    );
    const connected = sources.streamConnected;
    if (connected) {
      new Gauge({
        name: "fluid_daemon_stream_connected",
        help: "1 while registered with the control plane",
        registers,
        collect() {
          this.set(connected() ? 1 : 0);
        },
      });
    }
  }

  booted(seconds: number, from: "cold" | "resume"): void {
    this.boots.observe({ from }, seconds);
  }

  executed(seconds: number, outcome: "ok" | "error"): void {
    this.execs.observe({ outcome }, seconds);
  }

  commandHandled(kind: string, outcome: "ok" | "error"): void {
    this.commands.inc({ kind, outcome });
  }
}

/** One read shared by the gauges of a single scrape (they collect within the same tick). */
function memoised<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (!pending) {
      pending = read();
      const clear = () => {
        pending = undefined;
      };
      pending.then(clear, clear);
    }
    return pending;
  };
}
