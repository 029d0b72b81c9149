import type { Command } from "commander";
import { listHosts } from "../api/hosts.js";
import { relative, table } from "../output.js";
import { connectFor, emit } from "./shared.js";

/** How to get a first host, for every place that finds none. */
export const START_A_HOST =
  "create a host token with `fluid token create NAME`, then start a host with `fluid-daemon run --server HOST:9090 --token flh_…`";

/** `host ls`: the sandbox hosts (daemons) of the organization. */
export function registerHostCommands(program: Command): void {
  const host = program.command("host").description("sandbox hosts (machines running fluid-daemon)");

  host
    .command("ls")
    .description("list the organization's sandbox hosts with status and free capacity")
    .action(async (_options: unknown, command: Command) => {
      const conn = await connectFor(command);
      const { org } = conn;
      const result = await listHosts(conn);
      emit(command, result, () => {
        if (result.hosts.length === 0) return `No sandbox hosts in ${org}: ${START_A_HOST}\n`;
        return table(
          ["ID", "HOSTNAME", "STATUS", "CPUS", "FREE MEMORY", "SANDBOXES", "IMAGES", "LAST HEARTBEAT"],
          result.hosts.map((h) => [
            h.host_id,
            h.hostname,
            h.status,
            `${h.available_cpus}/${h.total_cpus}`,
            `${h.available_memory_mb} MB`,
            h.active_sandboxes,
            h.base_images.join(",") || null,
            relative(h.last_heartbeat),
          ]),
        );
      });
    });
}
