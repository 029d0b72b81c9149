import { listGuestDir, readGuestText } from "./guest-fs.js";

export interface CronEntry {
  path: string;
  /** The effective lines (schedules and environment settings), comments and blanks dropped. */
  lines: string[];
}

const CRON_DIRS = ["/etc/cron.d", "/var/spool/cron/crontabs"];

export function cronLines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** The system crontab, /etc/cron.d and the users' crontabs, keyed by path. */
export async function collectCron(root: string): Promise<Map<string, CronEntry>> {
  const paths = ["/etc/crontab"];
  for (const dir of CRON_DIRS) {
    // cron itself skips these names in cron.d (editor backups, package leftovers).
    for (const name of await listGuestDir(root, dir)) if (!/^\.|~$|\.dpkg-/.test(name)) paths.push(`${dir}/${name}`);
  }
  const entries = new Map<string, CronEntry>();
  for (const path of paths) {
    const text = await readGuestText(root, path, 1024 * 1024);
    if (text !== undefined) entries.set(path, { path, lines: cronLines(text) });
  }
  return entries;
}
