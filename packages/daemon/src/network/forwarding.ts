import { type NetnsOption, runNetChecked } from "./netns.js";

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

// Through cat/tee rather than fs: /proc/sys/net is per network namespace, and a subprocess is the
// one way to reach another namespace's copy, so the daemon and the tests share one code path.

export async function readIpForwarding(opts: NetnsOption = {}): Promise<boolean> {
  const { stdout } = await runNetChecked(["cat", IP_FORWARD], opts);
  return stdout.trim() === "1";
}

export async function writeIpForwarding(enabled: boolean, opts: NetnsOption = {}): Promise<void> {
  await runNetChecked(["tee", IP_FORWARD], opts, { input: enabled ? "1\n" : "0\n" });
}
