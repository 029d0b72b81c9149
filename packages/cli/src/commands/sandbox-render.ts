import type { Sandbox } from "@fluid/sdk";
import { details, when } from "../output.js";

/** One sandbox as the label/value block `sandbox get`, `create`, `stop`, `start` and `restore` print. */
export function sandboxDetails(s: Sandbox): string {
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

/** A command as one line of at most `max` characters, for tables. */
export function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
