import type { Sandbox } from "@fluid/sdk";
import type { Command } from "commander";
import { NoCapacityError } from "../api/errors.js";
import { listHosts } from "../api/hosts.js";
import { pollWhile } from "../api/poll.js";
import { createSandbox, getSandbox } from "../api/sandboxes.js";
import { namedSourceHost } from "../api/source-hosts.js";
import type { Connection } from "../connection.js";
import { CliError } from "../output.js";
import { describeProgress } from "../sandbox-progress.js";
import { START_A_HOST } from "./hosts.js";
import { sandboxDetails } from "./sandbox-render.js";
import { collect, connectFor, duration, emit, positiveInteger, withSpinner } from "./shared.js";

const POLL_MS = 500;

interface CreateOptions {
  name?: string;
  vcpus?: number;
  memory?: number;
  ttl?: number;
  egress?: boolean;
  egressAllow?: string[];
  sourceHost?: string;
  fresh?: boolean;
  wait: boolean;
}

/** `sandbox create`: requests the sandbox, then waits for it to boot unless told not to. */
export function registerSandboxCreateCommand(sandbox: Command): void {
  sandbox
    .command("create")
    .description("create a sandbox from a guest image (or source VM) and wait until it is RUNNING")
    .argument("<image>", "guest image or source VM to clone, e.g. tiny or debian-12 (see IMAGES in fluid host ls)")
    .option("--name <name>", "sandbox name (default: generated, sbx-…)")
    .option("--vcpus <n>", "virtual CPUs (default: the server's, 1)", positiveInteger)
    .option("--memory <mb>", "memory in MB (default: the server's, 512)", positiveInteger)
    .option("--ttl <duration>", "lease length: 90s, 30m, 2h, 1d (default: the server's)", duration)
    .option("--egress", "let the sandbox reach networks beyond its own (off by default)")
    .option(
      "--egress-allow <entry>",
      "let it reach only this CIDR or DNS name, optionally :PORT[,PORT…], from its first boot (repeatable)",
      collect,
    )
    .option("--source-host <host>", "clone the production VM <image> from this source host (name or id)")
    .option("--fresh", "with --source-host: pull the VM's disk again instead of using the cached copy")
    .option("--no-wait", "return at once, in state CREATING, instead of waiting for RUNNING")
    .addHelpText("after", "\nExample:\n  fluid sandbox create tiny --memory 256 --ttl 2h")
    .action(async (image: string, options: CreateOptions, command: Command) => {
      const conn = await connectFor(command);
      if (options.fresh && options.sourceHost === undefined) throw new CliError("--fresh needs --source-host");
      if (options.egress && options.egressAllow) throw new CliError("give --egress or --egress-allow, not both");
      const sourceHost = options.sourceHost === undefined ? undefined : await namedSourceHost(conn, options.sourceHost);
      const created = await createSandbox(conn, {
        source_vm: image,
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.vcpus === undefined ? {} : { vcpus: options.vcpus }),
        ...(options.memory === undefined ? {} : { memory_mb: options.memory }),
        ...(options.ttl === undefined ? {} : { ttl_seconds: options.ttl }),
        ...(options.egress ? { allow_egress: true } : {}),
        ...(options.egressAllow ? { egress_allow: options.egressAllow } : {}),
        ...(sourceHost ? { source_host_id: sourceHost.id, ...(options.fresh ? { fresh: true } : {}) } : {}),
      }).catch(async (err: unknown) => {
        throw await explainNoCapacity(conn, err, image);
      });
      const result = options.wait
        ? await withSpinner(
            command,
            `Creating sandbox ${created.name} from ${image}`,
            (update) =>
              untilCreated(conn, created, (s) => {
                const step = describeProgress(s.progress);
                update(`Creating sandbox ${created.name} from ${image}${step ? `: ${step}` : ""}`);
              }),
            (s) => `Sandbox ${s.name} is ${s.state}`,
          )
        : created;
      emit(
        command,
        result,
        () => `${sandboxDetails(result)}\nRun a command: fluid sandbox exec ${result.id} -- uname -a\n`,
      );
    });
}

/**
 * Creation is requested with wait=false and watched here: the host may take minutes (a TCG boot),
 * longer than one HTTP request should stay open.
 */
async function untilCreated(
  conn: Connection,
  created: Sandbox,
  onPoll: (sandbox: Sandbox) => void = () => undefined,
): Promise<Sandbox> {
  const current = await pollWhile(
    created,
    (sandbox) => sandbox.state === "CREATING",
    () => getSandbox(conn, created.id),
    { intervalMs: POLL_MS, onPoll },
  );
  if (current.state === "ERROR" || current.ended_at) {
    throw new CliError(
      `sandbox ${current.name} failed to start: ${current.error ?? current.end_reason ?? current.state}`,
      {
        code: "create_failed",
      },
    );
  }
  return current;
}

/** Adds what to do next to the server's no_capacity answer: start a host, or use an image one has. */
async function explainNoCapacity(conn: Connection, err: unknown, image: string): Promise<unknown> {
  if (!(err instanceof NoCapacityError)) return err;
  const hosts = await listHosts(conn).catch(() => undefined);
  if (!hosts) return err;
  const online = hosts.hosts.filter((h) => h.status === "ONLINE");
  if (online.length === 0) {
    return new NoCapacityError(err.status, err.code, `no sandbox host is connected to ${conn.org}: ${START_A_HOST}`);
  }
  const images = [...new Set(online.flatMap((h) => h.base_images))].sort();
  if (images.includes(image)) return err;
  const have = images.length > 0 ? `connected hosts have: ${images.join(", ")}` : "connected hosts have no images";
  return new NoCapacityError(err.status, err.code, `${err.message} (${have}; fluid-daemon image build NAME adds one)`);
}
