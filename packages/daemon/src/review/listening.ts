import type { ListeningSocket, SocketTable } from "../agent/proc-net.js";
import type { Change } from "./diff-types.js";
import type { NoisePolicy } from "./noise.js";

const WILDCARDS = new Set(["0.0.0.0", "::"]);

/** `tcp/22` for every address of its family, `tcp/127.0.0.1:8080` or `tcp6/[::1]:5432` for one. */
export function socketName(socket: Pick<ListeningSocket, "protocol" | "address" | "port">): string {
  if (WILDCARDS.has(socket.address)) return `${socket.protocol}/${socket.port}`;
  const host = socket.address.includes(":") ? `[${socket.address}]` : socket.address;
  return `${socket.protocol}/${host}:${socket.port}`;
}

interface Port {
  name: string;
  protocol: SocketTable;
  address: string;
  port: number;
  process?: string;
}

/** Sockets by name; several sockets on one address (forked workers, SO_REUSEPORT) are one port. */
function byName(sockets: readonly ListeningSocket[]): Map<string, Port> {
  const ports = new Map<string, Port & { processes: Set<string> }>();
  for (const socket of sockets) {
    const name = socketName(socket);
    const port = ports.get(name) ?? {
      name,
      protocol: socket.protocol,
      address: socket.address,
      port: socket.port,
      processes: new Set<string>(),
    };
    if (socket.process) port.processes.add(socket.process);
    ports.set(name, port);
  }
  const result = new Map<string, Port>();
  for (const [name, { processes, ...port }] of ports) {
    result.set(name, processes.size > 0 ? { ...port, process: [...processes].sort().join(",") } : port);
  }
  return result;
}

/**
 * The ports a running guest listens on now against those it listened on at its first boot. A port
 * is changed only when the process behind it changed, and only if both processes are known.
 */
export function diffListening(
  baseline: readonly ListeningSocket[],
  current: readonly ListeningSocket[],
  noise: NoisePolicy,
): Change[] {
  const before = byName(baseline);
  const after = byName(current);
  const changes: Change[] = [];
  for (const [name, port] of after) {
    if (noise.ignores("port", name)) continue;
    const old = before.get(name);
    if (!old) changes.push({ kind: "port", action: "added", ...port });
    else if (old.process && port.process && old.process !== port.process)
      changes.push({ kind: "port", action: "changed", ...port, from: { process: old.process } });
  }
  for (const [name, port] of before) {
    if (!after.has(name) && !noise.ignores("port", name)) changes.push({ kind: "port", action: "removed", ...port });
  }
  return changes;
}
