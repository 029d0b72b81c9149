import type { Task } from "./plan.js";
import type { SandboxRoot } from "./sandbox-root.js";

/**
 * sysctl(8) re-reads every settings file. It runs only when a settings file changed, so it does
 * change the kernel's settings: it reports changed (a second run does not notify it, so stays at 0).
 */
export const APPLY_SYSCTL: Task = {
  name: "Apply sysctl settings",
  module: "ansible.builtin.command",
  args: { cmd: "sysctl --system" },
  changed_when: true,
};

export function isSysctlFile(path: string): boolean {
  return path === "/etc/sysctl.conf" || /^\/etc\/sysctl\.d\/[^/]+\.conf$/.test(path);
}

const SHIPPED_SERVICE = /^(?:\/usr)?\/lib\/systemd\/system\/([^/]+\.service)$/;

const restart = (unit: string): Task => ({
  name: `Restart ${unit}`,
  module: "ansible.builtin.systemd_service",
  args: { name: unit, state: "restarted" },
});

/**
 * The restart handlers each configuration file needs: a file some package's dpkg file list holds,
 * when that package ships a service the sandbox enables (a disabled one picks the file up whenever
 * it is started). Files no package owns notify nothing: nothing says which service reads them.
 */
export async function restartHandlers(paths: readonly string[], root: SandboxRoot): Promise<Map<string, Task[]>> {
  const owners = await root.packageOwners(paths);
  const units = await root.units();
  const servicesOf = new Map<string, Task[]>();
  const byPath = new Map<string, Task[]>();
  for (const path of paths) {
    const pkg = owners.get(path);
    if (pkg === undefined) continue;
    let services = servicesOf.get(pkg);
    if (!services) {
      const names = new Set<string>();
      for (const file of await root.packageFiles(pkg)) {
        const unit = SHIPPED_SERVICE.exec(file)?.[1];
        const state = unit === undefined ? undefined : units.get(unit);
        if (unit !== undefined && state && state.wanted_by.length > 0 && !state.masked) names.add(unit);
      }
      services = [...names].sort().map(restart);
      servicesOf.set(pkg, services);
    }
    if (services.length > 0) byPath.set(path, services);
  }
  return byPath;
}
