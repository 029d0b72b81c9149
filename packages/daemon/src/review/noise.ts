import { z } from "zod";
import { SandboxError } from "../errors.js";

export const changeKinds = ["file", "package", "unit", "user", "group", "cron", "sysctl", "port"] as const;
export type ChangeKind = (typeof changeKinds)[number];

/**
 * One rule of the noise policy. `match` is a glob over a file's absolute path (kind "file") or over
 * the item's name (other kinds): `*` and `?` stay within one path segment, `**` spans segments.
 * "ignore" drops matching items from the diff; "redact" keeps them but never shows their contents
 * (only size and sha256), for secrets a reviewer must know changed but must not read.
 */
export const NoiseRule = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  kind: z.enum(changeKinds).default("file"),
  match: z.string().min(1).max(512),
  effect: z.enum(["ignore", "redact"]).default("ignore"),
  reason: z.string().max(200).default(""),
});
export type NoiseRule = z.infer<typeof NoiseRule>;

/** A per-request change to the default policy: replace it, drop rules by id, add rules. */
export const NoiseOverride = z.strictObject({
  replace: z.array(NoiseRule).max(500).optional(),
  disable: z.array(z.string()).max(500).optional(),
  add: z.array(NoiseRule).max(500).optional(),
});
export type NoiseOverride = z.infer<typeof NoiseOverride>;

/** A per-request override as sent over the wire: JSON text, checked against NoiseOverride. */
export function parseNoiseOverride(text: string): NoiseOverride {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SandboxError("invalid_request", "noise: not valid JSON");
  }
  const result = NoiseOverride.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SandboxError("invalid_request", `noise.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

type RuleInput = z.input<typeof NoiseRule>;

/**
 * What a sandbox changes by merely existing, which a reviewer should not have to read: logs and
 * caches (systemd's journal among them), what systemd keeps between boots, shell history, the identity fluid gives every clone (machine id, hostname, SSH host keys,
 * its SSH CA trust), and files tools rewrite as a side effect (backups of the account databases).
 */
const DEFAULT_RULES: RuleInput[] = [
  { id: "logs", match: "/var/log/**", reason: "logs" },
  { id: "caches", match: "/var/cache/**", reason: "caches" },
  { id: "apt-lists", match: "/var/lib/apt/lists/**", reason: "apt package lists" },
  { id: "tmp", match: "/tmp/**", reason: "temporary files" },
  { id: "var-tmp", match: "/var/tmp/**", reason: "temporary files" },
  { id: "run", match: "/run/**", reason: "runtime state" },
  { id: "home-caches", match: "/{root,home/*}/.cache/**", reason: "per-user caches" },
  {
    id: "shell-history",
    match: "/{root,home/*}/{.bash_history,.zsh_history,.python_history,.lesshst,.viminfo,.wget-hsts}",
    reason: "shell and tool history",
  },
  { id: "pycache", match: "**/__pycache__/**", reason: "compiled Python caches" },
  { id: "pyc", match: "**/*.pyc", reason: "compiled Python caches" },
  { id: "machine-id", match: "/etc/machine-id*", reason: "identity fluid resets on every clone" },
  { id: "dbus-machine-id", match: "/var/lib/dbus/machine-id", reason: "identity fluid resets on every clone" },
  { id: "hostname", match: "/etc/hostname", reason: "identity fluid sets on every clone" },
  { id: "hosts", match: "/etc/hosts", reason: "fluid's boot adds the clone's hostname" },
  { id: "resolv-conf", match: "/etc/resolv.conf", reason: "network identity fluid sets on every clone" },
  { id: "ssh-host-keys", match: "/etc/ssh/ssh_host_*", reason: "host keys fluid regenerates on every clone" },
  {
    id: "fluid-ssh-ca",
    match: "/etc/ssh/{fluid_ca.pub,fluid_principals,fluid_principals/**,sshd_config.d/fluid.conf}",
    reason: "fluid's SSH certificate access",
  },
  {
    id: "fluid-sshd",
    kind: "port",
    match: "tcp{,6}/22",
    reason: "fluid's sshd, which may start listening only after the first boot's ports are recorded",
  },
  {
    id: "ansible-remote-tmp",
    match: "/{root,home/*}/.ansible/**",
    reason: "ansible's remote temp directory, left by every run (fluid's verification runs too)",
  },
  {
    id: "systemd-state",
    match: "/var/lib/systemd/**",
    reason: "systemd's own state (random seed, timer stamps); what is enabled is under /etc/systemd",
  },
  { id: "systemd-update-stamps", match: "/{etc,var}/.updated", reason: "stamps systemd-update-done writes at boot" },
  { id: "ld-so-cache", match: "/etc/ld.so.cache", reason: "derived by ldconfig" },
  { id: "account-backups", match: "/etc/{passwd,group,shadow,gshadow,subuid,subgid}-", reason: "backup copies" },
  { id: "account-lock", match: "/etc/.pwd.lock", reason: "lock file" },
  { id: "shadow", effect: "redact", match: "/etc/{shadow,gshadow}", reason: "password hashes" },
  { id: "private-keys", effect: "redact", match: "/etc/ssl/private/**", reason: "private keys" },
  { id: "user-ssh-keys", effect: "redact", match: "/{root,home/*}/.ssh/id_*", reason: "private keys" },
];

export const defaultNoiseRules: readonly NoiseRule[] = DEFAULT_RULES.map((rule) => NoiseRule.parse(rule));

/** The rules for one request: the defaults with the caller's override applied. */
export function noiseRules(override: NoiseOverride = {}): NoiseRule[] {
  const base = override.replace ?? defaultNoiseRules;
  const disabled = new Set(override.disable ?? []);
  return [...base.filter((rule) => !disabled.has(rule.id)), ...(override.add ?? [])];
}

/** A glob as an anchored regular expression (see NoiseRule for the syntax; `{a,b}` alternates). */
export function globRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (glob.startsWith("**/", i)) {
      source += "(?:.*/)?";
      i += 2;
    } else if (glob.startsWith("/**", i) && i + 3 === glob.length) {
      source += "(?:/.*)?";
      i += 2;
    } else if (glob.startsWith("**", i)) {
      source += ".*";
      i += 1;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "{") source += "(?:";
    else if (char === "}") source += ")";
    else if (char === ",") source += "|";
    else source += char.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Decides, item by item, what the policy does with it. */
export class NoisePolicy {
  private readonly compiled: Array<{ rule: NoiseRule; pattern: RegExp }>;

  constructor(rules: readonly NoiseRule[]) {
    this.compiled = rules.map((rule) => ({ rule, pattern: globRegExp(rule.match) }));
  }

  effect(kind: ChangeKind, key: string): "ignore" | "redact" | undefined {
    let effect: "redact" | undefined;
    for (const { rule, pattern } of this.compiled) {
      if (rule.kind !== kind || !pattern.test(key)) continue;
      if (rule.effect === "ignore") return "ignore";
      effect = "redact";
    }
    return effect;
  }

  ignores(kind: ChangeKind, key: string): boolean {
    return this.effect(kind, key) === "ignore";
  }
}
