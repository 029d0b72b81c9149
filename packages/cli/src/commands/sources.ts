import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import {
  addSourceHost,
  inspectSource,
  listSourceHosts,
  namedSourceHost,
  prepareVm,
  readVmFile,
  removeSourceHost,
  runOnVm,
  type SourceInspection,
  sourceCommandLog,
  sourceHostOf,
  sourceHosts,
  vmsOn,
} from "../api/source-hosts.js";
import { CliError, EXIT, relative, table } from "../output.js";
import { connectFor, emit, globals, printJson, withSpinner } from "./shared.js";

interface HostOption {
  host?: string;
}

async function keyFrom(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new CliError(`cannot read the key file ${path}: ${(err as Error).message}`);
  }
}

type JournalPriority = NonNullable<Extract<SourceInspection, { kind: "journal" }>["priority"]>;

interface InspectOptions extends HostOption {
  unit?: string;
  lines?: number;
  since?: string;
  priority?: string;
}

function needs(target: string | undefined, what: string): string {
  if (target === undefined)
    throw new CliError(`fluid source inspect VM ${what} needs a ${what === "unit" ? "unit" : "path"}`);
  return target;
}

/** `fluid source inspect VM <what> [target]`: the server's typed inspections, by short names. */
const inspections: Record<string, (target: string | undefined, options: InspectOptions) => SourceInspection> = {
  dir: (target) => ({ kind: "list_dir", path: needs(target, "dir") }),
  stat: (target) => ({ kind: "stat", path: needs(target, "stat") }),
  unit: (target) => ({ kind: "unit_status", unit: needs(target, "unit") }),
  journal: (_target, o) => ({
    kind: "journal",
    ...(o.unit === undefined ? {} : { unit: o.unit }),
    ...(o.lines === undefined ? {} : { lines: o.lines }),
    ...(o.since === undefined ? {} : { since: o.since }),
    // The server checks the level; an unknown one is its 400, with the levels it takes.
    ...(o.priority === undefined ? {} : { priority: o.priority as JournalPriority }),
  }),
  packages: (target) => ({ kind: "packages", ...(target === undefined ? {} : { name: target }) }),
  processes: () => ({ kind: "processes" }),
  sockets: () => ({ kind: "listening_sockets" }),
};

/** `fluid source …`: production source hosts and read-only access to their VMs. */
export function registerSourceCommands(program: Command): void {
  const source = program
    .command("source")
    .description("source hosts and their production VMs: discover, prepare, read-only commands and files");

  source
    .command("hosts")
    .description("list the organization's source hosts")
    .action(async (_options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const { org } = conn;
      const result = await listSourceHosts(conn);
      emit(command, result, () => {
        if (result.count === 0)
          return `No source hosts in ${org}: add one with fluid source add NAME --hostname HOST\n`;
        return table(
          ["ID", "NAME", "TYPE", "ADDRESS", "SSH USER", "KEY", "PINNED HOST KEY"],
          result.source_hosts.map((h) => [
            h.id,
            h.name,
            h.type,
            `${h.hostname}:${h.ssh_port}`,
            h.ssh_user,
            h.has_ssh_private_key ? "stored" : "none",
            h.ssh_host_key ? "yes" : "no",
          ]),
        );
      });
    });

  source
    .command("add")
    .description("register a libvirt host reached over SSH (admin); the key is stored encrypted")
    .argument("<name>", "a name for the host, e.g. kvm-1")
    .requiredOption("--hostname <host>", "its address")
    .option("--port <n>", "SSH port", (v) => Number.parseInt(v, 10), 22)
    .option("--user <user>", "SSH user that may run virsh", "root")
    .option("--key-file <path>", "private key for that user (read here, sent once, stored encrypted)")
    .option(
      "--host-key <key>",
      "the host's public keys ('ssh-ed25519 AAAA…' or ssh-keyscan output): sandbox hosts accept only these",
    )
    .action(
      async (
        name: string,
        options: { hostname: string; port: number; user: string; keyFile?: string; hostKey?: string },
        command: Command,
      ) => {
        const conn = await connectFor(command);
        const key = await keyFrom(options.keyFile);
        const created = await addSourceHost(conn, {
          type: "libvirt",
          name,
          hostname: options.hostname,
          ssh_port: options.port,
          ssh_user: options.user,
          ...(key === undefined ? {} : { ssh_private_key: key }),
          ...(options.hostKey === undefined ? {} : { ssh_host_key: options.hostKey }),
        });
        emit(
          command,
          created,
          () => `Source host ${created.name} added (${created.id}); fluid source ls lists its VMs\n`,
        );
      },
    );

  source
    .command("rm")
    .description("remove a source host and its stored credentials (admin)")
    .argument("<host>", "source host name or id")
    .action(async (ref: string, _options: unknown, command: Command) => {
      const api = await connectFor(command);
      const host = await namedSourceHost(api, ref);
      const result = await removeSourceHost(api, host);
      emit(command, result, () => `Source host ${host.name} removed\n`);
    });

  source
    .command("ls")
    .description("list the VMs on the source hosts (virsh over SSH, through a sandbox host)")
    .option("--host <host>", "only this source host (name or id)")
    .action(async (options: HostOption, command: Command) => {
      const api = await connectFor(command);
      const hosts = options.host === undefined ? await sourceHosts(api) : [await namedSourceHost(api, options.host)];
      const rows: Array<{
        source_host: string;
        name: string;
        state: string;
        ip_address: string | null;
        prepared: boolean;
        cached_captured_at: string | null;
      }> = [];
      const unreachable: Array<{ source_host: string; error: string }> = [];
      for (const host of hosts) {
        try {
          for (const vm of await vmsOn(api, host)) rows.push({ source_host: host.name, ...vm });
        } catch (err) {
          unreachable.push({ source_host: host.name, error: (err as Error).message });
        }
      }
      emit(command, { vms: rows, count: rows.length, unreachable }, () => {
        const failures = unreachable.map((u) => `${u.source_host}: ${u.error}\n`).join("");
        if (rows.length === 0) return `No VMs found\n${failures}`;
        return (
          table(
            ["SOURCE HOST", "VM", "STATE", "IP", "PREPARED", "CACHED COPY"],
            rows.map((r) => [
              r.source_host,
              r.name,
              r.state,
              r.ip_address,
              r.prepared ? "yes" : "no",
              r.cached_captured_at ? relative(r.cached_captured_at) : "none",
            ]),
          ) + failures
        );
      });
      if (rows.length === 0 && unreachable.length > 0) process.exitCode = EXIT.failure;
    });

  source
    .command("prepare")
    .description("set a VM up for read-only access (admin): read-only user, restricted shell, CA key, sshd")
    .argument("<vm>", "VM name")
    .option("--host <host>", "source host (name or id), if several have this VM")
    .option("--user <user>", "a user on the VM that may use sudo", "root")
    .option("--key-file <path>", "that user's private key, used once and not stored (default: the source host's)")
    .action(async (vm: string, options: HostOption & { user: string; keyFile?: string }, command: Command) => {
      const api = await connectFor(command);
      const host = await sourceHostOf(api, vm, options.host);
      const key = await keyFrom(options.keyFile);
      const result = await withSpinner(
        command,
        `Preparing ${vm} on ${host.name}`,
        () =>
          prepareVm(api, host, vm, { ssh_user: options.user, ...(key === undefined ? {} : { ssh_private_key: key }) }),
        () => `${vm} is prepared for read-only access`,
      );
      emit(command, result, () =>
        table(
          ["STEP", "DONE"],
          Object.entries(result.steps).map(([step, done]) => [step.replaceAll("_", " "), done ? "yes" : "no"]),
        ),
      );
    });

  source
    .command("run")
    .description("run a read-only command on a source VM; exits with its exit code")
    .argument("<vm>", "VM name")
    .argument("<command...>", "the command, after --; parsed as shell syntax and checked against the read-only policy")
    .option("--host <host>", "source host (name or id), if several have this VM")
    .option("--timeout <seconds>", "give up after this many seconds (default 30)", (v) => Number.parseInt(v, 10))
    .addHelpText(
      "after",
      `
Allowed: read-only programs and flags (cat, ls, grep, ps, ss, df, systemctl status, journalctl, …) joined by
|, &&, || and ;. Refused: redirection, substitution, variables, globs and exec-style flags (find -exec, sed -i, …).

Example:
  fluid source run web-1 -- 'systemctl status nginx | head -n 20'`,
    )
    .action(async (vm: string, words: string[], options: HostOption & { timeout?: number }, command: Command) => {
      const api = await connectFor(command);
      const host = await sourceHostOf(api, vm, options.host);
      const result = await runOnVm(api, host, vm, {
        command: words.join(" "),
        ...(options.timeout === undefined ? {} : { timeout_seconds: options.timeout }),
      });
      showSourceOutput(result, globals(command).json);
    });

  source
    .command("inspect")
    .description("typed read-only inspection of a source VM; exits with the command's exit code")
    .argument("<vm>", "VM name")
    .argument("<what>", `one of: ${Object.keys(inspections).join(", ")}`)
    .argument("[target]", "the path (dir, stat), unit (unit) or package (packages)")
    .option("--host <host>", "source host (name or id), if several have this VM")
    .option("--unit <unit>", "journal: only this unit's entries")
    .option("--lines <n>", "journal: newest entries to show (default 100)", (v) => Number.parseInt(v, 10))
    .option("--since <time>", "journal: from this time, e.g. '-1h', 'today', '2026-11-28 10:00'")
    .option("--priority <level>", "journal: this priority and above (emerg … debug)")
    .addHelpText(
      "after",
      `
Each runs one command line the server builds from these arguments (ls -la, stat, systemctl status,
journalctl, dpkg-query, ps, ss -tulpn), under the same read-only policy and audit as fluid source run.

Examples:
  fluid source inspect web-1 unit nginx.service
  fluid source inspect web-1 journal --unit nginx.service --since -1h --priority err`,
    )
    .action(async (vm: string, what: string, target: string | undefined, options: InspectOptions, command: Command) => {
      const build = inspections[what as keyof typeof inspections];
      if (!build) throw new CliError(`unknown inspection "${what}": use one of ${Object.keys(inspections).join(", ")}`);
      const inspection = build(target, options);
      const result = await inspectSource(await connectFor(command), vm, options.host, inspection);
      showSourceOutput(result, globals(command).json);
    });

  source
    .command("read")
    .description("print a file from a source VM (secrets such as private keys are refused)")
    .argument("<vm>", "VM name")
    .argument("<path>", "absolute path on the VM")
    .option("--host <host>", "source host (name or id), if several have this VM")
    .action(async (vm: string, path: string, options: HostOption, command: Command) => {
      const api = await connectFor(command);
      const host = await sourceHostOf(api, vm, options.host);
      const file = await readVmFile(api, host, vm, path);
      if (globals(command).json) printJson(file);
      else process.stdout.write(file.encoding === "base64" ? Buffer.from(file.content, "base64") : file.content);
    });

  source
    .command("audit")
    .description("the audit trail of read-only access to source VMs, newest first")
    .option("--vm <vm>", "only this VM")
    .option("--limit <n>", "at most this many entries (default 100)", (v) => Number.parseInt(v, 10))
    .action(async (options: { vm?: string; limit?: number }, command: Command) => {
      const result = await sourceCommandLog(await connectFor(command), {
        ...(options.vm === undefined ? {} : { vm: options.vm }),
        ...(options.limit === undefined ? {} : { limit: options.limit }),
      });
      emit(command, result, () =>
        table(
          ["WHEN", "SOURCE HOST", "VM", "KIND", "OUTCOME", "EXIT", "COMMAND"],
          result.source_commands.map((c) => [
            relative(c.started_at),
            c.source_host_name,
            c.vm,
            c.kind,
            c.outcome,
            c.exit_code,
            c.command,
          ]),
        ),
      );
    });
}

/** A source command's answer: its output as the VM printed it (or the whole reply with --json) and its exit code. */
function showSourceOutput(result: { stdout: string; stderr: string; exit_code: number }, json?: boolean): void {
  if (json) printJson(result);
  else {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
  }
  process.exitCode = result.exit_code;
}
