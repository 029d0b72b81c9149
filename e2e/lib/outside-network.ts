import { type ChildProcess, execFileSync, spawn } from "node:child_process";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

export interface OutsideNetwork {
  /** Stops the listener and removes the namespace and the veth pair. */
  close(): void;
}

/**
 * "Outside" for egress tests: a network namespace the test owns, reached from the host through a
 * veth pair (`hostAddress` on the host's end, `addresses` on eth0 inside), with a Node program
 * (`listener`, source for `node -e`) serving TCP in it. Needs root.
 */
export function startOutsideNetwork(o: {
  namespace: string;
  veth: string;
  /** CIDR notation, e.g. 10.94.77.1/24. */
  hostAddress: string;
  addresses: string[];
  listener: string;
}): OutsideNetwork {
  ip("netns", "add", o.namespace);
  let listener: ChildProcess | undefined;
  try {
    ip("link", "add", o.veth, "type", "veth", "peer", "name", "eth0", "netns", o.namespace);
    ip("addr", "add", o.hostAddress, "dev", o.veth);
    ip("link", "set", o.veth, "up");
    for (const address of o.addresses) ip("-n", o.namespace, "addr", "add", address, "dev", "eth0");
    ip("-n", o.namespace, "link", "set", "eth0", "up");
    ip("-n", o.namespace, "link", "set", "lo", "up");
    listener = spawn("ip", ["netns", "exec", o.namespace, process.execPath, "-e", o.listener]);
  } catch (err) {
    ip("netns", "del", o.namespace);
    throw err;
  }
  return {
    close() {
      listener?.kill();
      try {
        ip("link", "del", o.veth);
      } catch {
        // already gone with the namespace
      }
      ip("netns", "del", o.namespace);
    },
  };
}
