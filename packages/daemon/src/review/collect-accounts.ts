import { createHash } from "node:crypto";
import { readGuestText } from "./guest-fs.js";

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  /** sha256 of the password field in /etc/shadow: enough to see it changed, useless to crack it. */
  password_sha256: string | null;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function records(text: string | undefined, fields: number): string[][] {
  return (text ?? "")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"))
    .filter((parts) => parts.length >= fields && parts[0] !== "");
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export async function collectUsers(root: string): Promise<Map<string, UserEntry>> {
  const passwords = new Map(
    records(await readGuestText(root, "/etc/shadow"), 2).map((parts) => [parts[0], sha256(parts[1] as string)]),
  );
  const users = new Map<string, UserEntry>();
  for (const [name, , uid, gid, gecos, home, shell] of records(await readGuestText(root, "/etc/passwd"), 7)) {
    users.set(name as string, {
      name: name as string,
      uid: Number(uid),
      gid: Number(gid),
      gecos: gecos ?? "",
      home: home ?? "",
      shell: shell ?? "",
      password_sha256: passwords.get(name as string) ?? null,
    });
  }
  return users;
}

export async function collectGroups(root: string): Promise<Map<string, GroupEntry>> {
  const groups = new Map<string, GroupEntry>();
  for (const [name, , gid, members] of records(await readGuestText(root, "/etc/group"), 4)) {
    const list = (members ?? "").split(",").filter(Boolean).sort();
    groups.set(name as string, { name: name as string, gid: Number(gid), members: list });
  }
  return groups;
}
