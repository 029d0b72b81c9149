import { NoCapacityError, type Sandbox, unwrap } from "@fluid/sdk";
import { type Command, InvalidArgumentError } from "commander";
import type { Connection } from "../connection.js";
import { bytes, CliError, details, EXIT, relative, table, when } from "../output.js";
import { describeProgress } from "../sandbox-progress.js";
import { namedSourceHost } from "../source-hosts.js";
import { START_A_HOST } from "./hosts.js";
import { registerSandboxDiffCommand } from "./sandbox-diff.js";
import { registerSandboxFileCommands } from "./sandbox-files.js";
import { registerSandboxForkCommand } from "./sandbox-fork.js";
import { getSandbox, listSandboxes, SANDBOX_ARG, sandboxId, snapshotIdFor } from "./sandbox-lookup.js";
import {
  allPages,
  connectFor,
  duration,
  emit,
  globals,
  PAGE_SIZE,
  positiveInteger,
  printJson,
  withSpinner,
} from "./shared.js";

const POLL_MS = 500;
/** Exit status for a command the guest killed at its timeout (as timeout(1) uses). */
const EXIT_TIMED_OUT = 124;

/** `sandbox …`: create, inspect, run commands in, snapshot and destroy sandboxes. */
export function registerSandboxCommands(program: Command): void {
  const sandbox = program
    .command("sandbox")
    .description("microVM sandboxes: create, exec, copy files, snapshot, destroy");

  sandbox
    .command("create")
    .description("create a sandbox from a guest image (or source VM) and wait until it is RUNNING")
    .argument("<image>", "guest image or source VM to clone, e.g. tiny or debian-12 (see IMAGES in fluid host ls)")
    .option("--name <name>", "sandbox name (default: generated, sbx-…)")
    .option("--vcpus <n>", "virtual CPUs (default: the server's, 1)", positiveInteger)
    .option("--memory <mb>", "memory in MB (default: the server's, 512)", positiveInteger)
    .option("--ttl <duration>", "lease length: 90s, 30m, 2h, 1d (default: the server's)", duration)
    .option("--egress", "let the sandbox reach networks beyond its own (off by default)")
    .option("--source-host <host>", "clone the production VM <image> from this source host (name or id)")
    .option("--fresh", "with --source-host: pull the VM's disk again instead of using the cached copy")
    .option("--no-wait", "return at once, in state CREATING, instead of waiting for RUNNING")
    .addHelpText("after", "\nExample:\n  fluid sandbox create tiny --memory 256 --ttl 2h")
    .action(async (image: string, options: CreateOptions, command: Command) => {
      const conn = await connectFor(command);
      if (options.fresh && options.sourceHost === undefined) throw new CliError("--fresh needs --source-host");
      const sourceHost = options.sourceHost === undefined ? undefined : await namedSourceHost(conn, options.sourceHost);
      const created = await unwrap(
        conn.client.POST("/v1/orgs/{slug}/sandboxes", {
          params: { path: { slug: conn.org }, query: { wait: "false" } },
          body: {
            source_vm: image,
            ...(options.name === undefined ? {} : { name: options.name }),
            ...(options.vcpus === undefined ? {} : { vcpus: options.vcpus }),
            ...(options.memory === undefined ? {} : { memory_mb: options.memory }),
            ...(options.ttl === undefined ? {} : { ttl_seconds: options.ttl }),
            ...(options.egress ? { allow_egress: true } : {}),
            ...(sourceHost ? { source_host_id: sourceHost.id, ...(options.fresh ? { fresh: true } : {}) } : {}),
          },
        }),
      ).catch(async (err: unknown) => {
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

  sandbox
    .command("ls")
    .description("list the organization's live sandboxes, newest first")
    .option("--all", "include ended sandboxes, with why they ended")
    .action(async (options: { all?: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const sandboxes = await listSandboxes(conn, options.all ?? false);
      emit(command, { sandboxes, count: sandboxes.length }, () =>
        sandboxes.length === 0
          ? "No sandboxes: create one with `fluid sandbox create IMAGE` (images: fluid host ls)\n"
          : table(
              ["ID", "NAME", "STATE", "IMAGE", "IP", "CPUS", "MEMORY", "LEASE"],
              sandboxes.map((s) => [
                s.id,
                s.name,
                s.state,
                s.source_vm,
                s.ip_address,
                s.vcpus,
                `${s.memory_mb} MB`,
                s.ended_at ? `ended (${s.end_reason ?? "unknown"})` : `ends ${relative(s.expires_at)}`,
              ]),
            ),
      );
    });

  sandbox
    .command("get")
    .description("show one sandbox (ended ones too, with their end reason)")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const found = await getSandbox(conn, await sandboxId(conn, ref));
      emit(command, found, () => sandboxDetails(found));
    });

  sandbox
    .command("exec")
    .description("run a command in a running sandbox, print its output and exit with its exit code")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<command...>", "the command, after --; its words are joined with spaces and run by /bin/sh -c")
    .option(
      "--timeout <duration>",
      "kill the command after this long, e.g. 30s or 10m (default: the server's, 5m)",
      duration,
    )
    .option("-e, --env <name=value>", "set an environment variable for the command (repeatable)", envPair)
    .addHelpText(
      "after",
      `
Exit status: the command's own; ${EXIT_TIMED_OUT} when it timed out; 1-4 for fluid's own errors.

Examples:
  fluid sandbox exec sbx-1 -- uname -a
  fluid sandbox exec sbx-1 --env LEVEL=debug -- 'echo $LEVEL > /tmp/level'`,
    )
    .action(async (ref: string, words: string[], options: ExecOptions, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const result = await unwrap(
        conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/run", {
          params: { path: { slug: conn.org, id } },
          body: {
            command: words.join(" "),
            ...(options.timeout === undefined ? {} : { timeout_seconds: options.timeout }),
            ...(options.env ? { env: options.env } : {}),
          },
        }),
      );
      if (globals(command).json) {
        printJson(result);
      } else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        if (result.stdout_truncated || result.stderr_truncated) {
          process.stderr.write("fluid: output was truncated (the server keeps at most 1 MiB per stream)\n");
        }
        if (result.status === "timed_out") process.stderr.write("fluid: the command timed out and was killed\n");
      }
      process.exitCode = commandExitCode(result.status, result.exit_code);
    });

  registerSandboxFileCommands(sandbox);
  registerSandboxDiffCommand(sandbox);

  sandbox
    .command("stop")
    .description("stop a running sandbox (its disk is kept; start brings it back)")
    .argument("<sandbox>", SANDBOX_ARG)
    .option("--force", "power off at once instead of a clean shutdown")
    .action(async (ref: string, options: { force?: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const stopped = await withSpinner(
        command,
        "Stopping sandbox",
        () =>
          unwrap(
            conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/stop", {
              params: { path: { slug: conn.org, id } },
              body: { force: options.force ?? false },
            }),
          ),
        (s) => `Sandbox ${s.name} is ${s.state}`,
      );
      emit(command, stopped, () => sandboxDetails(stopped));
    });

  sandbox
    .command("start")
    .description("start a stopped sandbox")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const started = await withSpinner(
        command,
        "Starting sandbox",
        () =>
          unwrap(
            conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/start", { params: { path: { slug: conn.org, id } } }),
          ),
        (s) => `Sandbox ${s.name} is ${s.state}`,
      );
      emit(command, started, () => sandboxDetails(started));
    });

  sandbox
    .command("snapshot")
    .description("snapshot a sandbox's disk (and, with --memory, its running memory)")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<name>", "snapshot name: letters, digits, . _ -")
    .option("--memory", "also save memory, so restore resumes the running processes")
    .action(async (ref: string, name: string, options: { memory?: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const snapshot = await withSpinner(
        command,
        `Snapshotting ${ref}`,
        () =>
          unwrap(
            conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/snapshot", {
              params: { path: { slug: conn.org, id } },
              body: { name, include_memory: options.memory ?? false },
            }),
          ),
        (s) => `Snapshot ${s.name} taken (${bytes(s.size_bytes)}${s.has_memory ? ", with memory" : ""})`,
      );
      emit(
        command,
        snapshot,
        () => `${snapshot.id}\nRestore it with: fluid sandbox restore ${snapshot.sandbox_id} ${snapshot.id}\n`,
      );
    });

  registerSandboxForkCommand(sandbox);

  sandbox
    .command("snapshots")
    .description("list a sandbox's snapshots")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const result = await unwrap(
        conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/snapshots", { params: { path: { slug: conn.org, id } } }),
      );
      emit(command, result, () =>
        result.snapshots.length === 0
          ? "No snapshots: take one with `fluid sandbox snapshot SANDBOX NAME`\n"
          : table(
              ["ID", "NAME", "MEMORY", "SIZE", "CREATED"],
              result.snapshots.map((s) => [
                s.id,
                s.name,
                s.has_memory ? "yes" : "no",
                bytes(s.size_bytes),
                relative(s.created_at),
              ]),
            ),
      );
    });

  sandbox
    .command("restore")
    .description("put a sandbox back to one of its snapshots (disk, and memory if it was saved)")
    .argument("<sandbox>", SANDBOX_ARG)
    .argument("<snapshot>", "snapshot id or name (see fluid sandbox snapshots)")
    .action(async (ref: string, snapshotRef: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const snapshotId = await snapshotIdFor(conn, id, snapshotRef);
      const restored = await withSpinner(
        command,
        `Restoring ${ref} to ${snapshotRef}`,
        () =>
          unwrap(
            conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/restore", {
              params: { path: { slug: conn.org, id } },
              body: { snapshot_id: snapshotId },
            }),
          ),
        (s) => `Sandbox ${s.name} is ${s.state}`,
      );
      emit(command, restored, () => sandboxDetails(restored));
    });

  sandbox
    .command("extend")
    .description("set a sandbox's lease to end a given time from now")
    .argument("<sandbox>", SANDBOX_ARG)
    .requiredOption("--ttl <duration>", "new lease length from now: 90s, 30m, 2h, 1d", duration)
    .action(async (ref: string, options: { ttl: number }, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const extended = await unwrap(
        conn.client.POST("/v1/orgs/{slug}/sandboxes/{id}/extend", {
          params: { path: { slug: conn.org, id } },
          body: { ttl_seconds: options.ttl },
        }),
      );
      emit(command, extended, () => `Lease of ${extended.name} now ends ${when(extended.expires_at)}\n`);
    });

  sandbox
    .command("rm")
    .description("destroy a sandbox and its VM for good (your own as member, anyone's as admin)")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const destroyed = await withSpinner(
        command,
        `Destroying ${ref}`,
        () =>
          unwrap(conn.client.DELETE("/v1/orgs/{slug}/sandboxes/{id}", { params: { path: { slug: conn.org, id } } })),
        (s) => `Sandbox ${s.name} destroyed`,
      );
      emit(command, destroyed, () => `${destroyed.id}\n`);
    });

  sandbox
    .command("commands")
    .description("the audit trail: every command run in a sandbox, oldest first")
    .argument("<sandbox>", SANDBOX_ARG)
    .action(async (ref: string, _options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const id = await sandboxId(conn, ref);
      const commands = await allPages(async (offset) => {
        const page = await unwrap(
          conn.client.GET("/v1/orgs/{slug}/sandboxes/{id}/commands", {
            params: { path: { slug: conn.org, id }, query: { limit: PAGE_SIZE, offset } },
          }),
        );
        return { items: page.commands, next_offset: page.next_offset };
      });
      emit(command, { commands, count: commands.length }, () =>
        commands.length === 0
          ? "No commands have run in this sandbox\n"
          : table(
              ["STARTED", "STATUS", "EXIT", "DURATION", "COMMAND"],
              commands.map((c) => [
                c.started_at,
                c.status,
                c.exit_code,
                c.duration_ms === null ? null : `${c.duration_ms} ms`,
                oneLine(c.command),
              ]),
            ),
      );
    });
}

interface CreateOptions {
  name?: string;
  vcpus?: number;
  memory?: number;
  ttl?: number;
  egress?: boolean;
  sourceHost?: string;
  fresh?: boolean;
  wait: boolean;
}

interface ExecOptions {
  timeout?: number;
  env?: Record<string, string>;
}

function envPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq < 1) throw new InvalidArgumentError("must be NAME=VALUE");
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** The guest command's exit status as ours; statuses outside 0-255 cannot be passed on. */
export function commandExitCode(status: string, exitCode: number | null): number {
  if (status === "timed_out") return EXIT_TIMED_OUT;
  if (exitCode === null || !Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) return EXIT.failure;
  return exitCode;
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
  let current = created;
  while (current.state === "CREATING") {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    current = await getSandbox(conn, created.id);
    onPoll(current);
  }
  if (current.state === "ERROR" || current.ended_at) {
    throw new CliError(
      `sandbox ${current.name} failed to start: ${current.error ?? current.end_reason ?? current.state}`,
      {
        exitCode: EXIT.failure,
        code: "create_failed",
      },
    );
  }
  return current;
}

/** Adds what to do next to the server's no_capacity answer: start a host, or use an image one has. */
async function explainNoCapacity(conn: Connection, err: unknown, image: string): Promise<unknown> {
  if (!(err instanceof NoCapacityError)) return err;
  const hosts = await unwrap(conn.client.GET("/v1/orgs/{slug}/hosts", { params: { path: { slug: conn.org } } })).catch(
    () => undefined,
  );
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

function sandboxDetails(s: Sandbox): string {
  const rows: Parameters<typeof details>[0] = [
    ["id", s.id],
    ["name", s.name],
    ["state", s.state],
    ["image", s.source_vm],
    ...(s.source_captured_at ? [["captured", when(s.source_captured_at)] as [string, string | null]] : []),
    ["host", s.host_id],
    ["ip", s.ip_address],
    ["vcpus", s.vcpus],
    ["memory", `${s.memory_mb} MB`],
    ["egress", s.allow_egress ? "allowed" : "none"],
    ["created", when(s.created_at)],
  ];
  if (s.ended_at) rows.push(["ended", `${when(s.ended_at)}: ${s.end_reason ?? "unknown"}`]);
  else rows.push(["lease ends", when(s.expires_at)]);
  if (s.error) rows.push(["error", s.error]);
  return details(rows);
}

function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
