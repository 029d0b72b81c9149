import type { Change } from "../diff-types.js";
import type { Data, Plan } from "./plan.js";
import type { SandboxRoot } from "./sandbox-root.js";

interface PackageChange extends Change {
  name: string;
  version: string;
  arch: string;
}

interface UnitChange extends Change {
  name: string;
  wanted_by: string[];
  masked: boolean;
  from?: { wanted_by?: string[]; masked?: boolean };
}

/**
 * Package tasks with exact versions, removals first. Removal is `absent`, not `purge`: when the
 * sandbox purged, the diff lists the configuration files that went, and their removal tasks
 * reproduce exactly that; when it did not, the files stay, as in the sandbox. Version changes get
 * `allow_downgrade` (apt refuses a lower version otherwise); a pinned version stays idempotent.
 */
export async function planPackages(changes: readonly Change[], root: SandboxRoot, plan: Plan): Promise<void> {
  const packages = changes.filter((c): c is PackageChange => c.kind === "package");
  if (packages.length === 0) return;
  const native = await root.nativeArch();
  // A foreign architecture (multiarch) must be named; the native one and `all` need not be.
  const named = (p: PackageChange) => (p.arch === "all" || p.arch === native ? p.name : `${p.name}:${p.arch}`);
  const removed = packages.filter((p) => p.action === "removed").map(named);
  const added = packages.filter((p) => p.action === "added").map((p) => `${named(p)}=${p.version}`);
  const changed = packages.filter((p) => p.action === "changed").map((p) => `${named(p)}=${p.version}`);
  if (removed.length > 0) {
    plan.add("removed packages", {
      name: "Remove packages",
      module: "ansible.builtin.apt",
      args: { name: removed, state: "absent" },
    });
  }
  // A fresh clone may have no package lists (the image drops them); an hour-old cache is current enough.
  const cache = { update_cache: true, cache_valid_time: 3600 };
  if (added.length > 0) {
    plan.add("packages", {
      name: "Install packages at their exact versions",
      module: "ansible.builtin.apt",
      args: { name: added, state: "present", ...cache },
    });
  }
  if (changed.length > 0) {
    plan.add("packages", {
      name: "Upgrade or downgrade packages to their exact versions",
      module: "ansible.builtin.apt",
      args: { name: changed, state: "present", allow_downgrade: true, ...cache },
    });
  }
}

/**
 * Unit tasks: enable, disable, mask, unmask, as the diff records them in /etc. Nothing is started
 * or stopped: a mounted disk does not say what runs. No daemon_reload: `systemctl enable` reads unit
 * files from disk (and reloads a running manager itself), while an explicit reload fails where
 * systemd is installed but not PID 1 (a sandbox under fluid's own init).
 */
export function planUnits(changes: readonly Change[], plan: Plan): void {
  for (const unit of changes.filter((c): c is UnitChange => c.kind === "unit")) {
    const wasEnabled = unit.action === "added" ? false : (unit.from?.wanted_by ?? unit.wanted_by).length > 0;
    const wasMasked = unit.action === "added" ? false : (unit.from?.masked ?? unit.masked);
    const isEnabled = unit.action === "removed" ? false : unit.wanted_by.length > 0;
    const isMasked = unit.action === "removed" ? false : unit.masked;
    const args: Record<string, Data> = { name: unit.name };
    const verbs: string[] = [];
    if (isMasked !== wasMasked) {
      args.masked = isMasked;
      verbs.push(isMasked ? "Mask" : "Unmask");
    }
    if (isEnabled !== wasEnabled) {
      args.enabled = isEnabled;
      verbs.push(isEnabled ? "Enable" : "Disable");
    } else if (isEnabled && unit.from?.wanted_by) {
      plan.note(
        `unit ${unit.name}: now wanted by ${unit.wanted_by.join(", ")} instead of ${unit.from.wanted_by.join(", ")}; ` +
          "re-enable it by hand",
      );
    }
    if (verbs.length === 0) continue;
    plan.add("units", {
      name: `${verbs.join(" and ")} ${unit.name}`,
      module: "ansible.builtin.systemd_service",
      args,
    });
  }
}
