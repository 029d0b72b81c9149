import { parse } from "yaml";
import { diffRoots } from "../review/diff.js";
import { generatePlaybook } from "../review/playbook/generate.js";
import { mountedRoot } from "../review/playbook/sandbox-root.js";
import type { SandboxRoots } from "./sandbox-roots.js";

export type TaskData = Record<string, unknown> & { name: string; notify?: string[] };
export interface PlayData {
  hosts: string;
  tasks: TaskData[];
  handlers?: TaskData[];
}

/** The playbook generated from the diff of two roots, and its play as a YAML parser reads it. */
export async function generateFrom(roots: SandboxRoots) {
  const diff = await diffRoots(roots.base, roots.sandbox);
  const generated = await generatePlaybook(diff.changes, mountedRoot(roots.sandbox));
  const unsafe = { tag: "!unsafe", resolve: (text: string) => text };
  const [play] = parse(generated.yaml, { customTags: [unsafe] }) as PlayData[];
  return { ...generated, play: play as PlayData };
}

export const taskNamed = (play: PlayData, name: string) => play.tasks.find((task) => task.name === name);
