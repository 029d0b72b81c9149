import { guestLinkTarget, listGuestDir } from "./guest-fs.js";

export interface UnitEntry {
  name: string;
  /** Units whose .wants/.requires directory links it (how `systemctl enable` records it). */
  wanted_by: string[];
  masked: boolean;
}

const SYSTEM_DIR = "/etc/systemd/system";

/**
 * Unit enablement as systemd stores it in /etc: symlinks in `<unit>.wants/` and `<unit>.requires/`
 * directories, and masks (links to /dev/null). Only units that are enabled or masked appear.
 */
export async function collectUnits(root: string): Promise<Map<string, UnitEntry>> {
  const units = new Map<string, UnitEntry>();
  const unit = (name: string) => {
    const existing = units.get(name);
    if (existing) return existing;
    const created: UnitEntry = { name, wanted_by: [], masked: false };
    units.set(name, created);
    return created;
  };
  for (const entry of await listGuestDir(root, SYSTEM_DIR)) {
    const path = `${SYSTEM_DIR}/${entry}`;
    const dependency = /^(.+)\.(wants|requires)$/.exec(entry);
    if (dependency) {
      for (const name of await listGuestDir(root, path)) {
        if (await guestLinkTarget(root, `${path}/${name}`)) unit(name).wanted_by.push(dependency[1] as string);
      }
      continue;
    }
    if ((await guestLinkTarget(root, path)) === "/dev/null") unit(entry).masked = true;
  }
  for (const entry of units.values()) entry.wanted_by.sort();
  return units;
}
