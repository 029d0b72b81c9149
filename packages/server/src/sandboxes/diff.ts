import { z } from "zod";
import { HostCommandError } from "../stream/errors.js";

export const changeKinds = ["file", "package", "unit", "user", "group", "cron", "sysctl", "port"] as const;
export const changeActions = ["added", "changed", "removed"] as const;

const NoiseRule = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  kind: z.enum(changeKinds).optional().describe("default file"),
  match: z.string().min(1).max(512).describe("glob over a file's path or an item's name (* ? ** {a,b})"),
  effect: z.enum(["ignore", "redact"]).optional().describe("default ignore"),
  reason: z.string().max(200).optional(),
});

/**
 * A per-request change to the host's noise policy: replace it, drop rules by id, add rules. Checked
 * here so a bad override is the caller's 400, and checked again by the host, which applies it.
 */
export const NoiseOverride = z.strictObject({
  replace: z.array(NoiseRule).max(500).optional(),
  disable: z.array(z.string().max(64)).max(500).optional(),
  add: z.array(NoiseRule).max(500).optional(),
});
export type NoiseOverride = z.infer<typeof NoiseOverride>;

const ChangeSchema = z
  .looseObject({
    kind: z.enum(changeKinds),
    action: z.enum(changeActions),
    path: z.string().optional().describe("for files and crontabs"),
    name: z.string().optional().describe("for packages, units, users, groups, sysctl keys and ports"),
  })
  .describe("one difference; further members are the details of its kind (diff, sha256, version, mode, …)")
  .meta({ id: "SandboxChange" });

export const SandboxDiffSchema = z
  .object({
    hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe("sha256 of the canonical JSON of summary and changes"),
    summary: z.object({
      total: z.number().int(),
      added: z.number().int(),
      changed: z.number().int(),
      removed: z.number().int(),
      by_kind: z.record(z.string(), z.number().int()),
    }),
    changes: z.array(ChangeSchema),
  })
  .meta({ id: "SandboxDiff" });
export type SandboxDiff = z.infer<typeof SandboxDiffSchema>;

/** A host's diff reply as the API shows it; a reply that does not fit is the host breaking the protocol. */
export function hostDiff(reply: { diffJson: Uint8Array; hash: string }): SandboxDiff {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(reply.diffJson).toString("utf8"));
  } catch {
    throw new HostCommandError("protocol_error", "the diff is not valid JSON");
  }
  const parsed = SandboxDiffSchema.safeParse(value);
  if (!parsed.success) throw new HostCommandError("protocol_error", `the diff is malformed: ${parsed.error.message}`);
  if (parsed.data.hash !== reply.hash) throw new HostCommandError("protocol_error", "the diff's hash does not match");
  return parsed.data;
}
