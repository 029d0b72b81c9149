import { type GuestReader, loadListeningBaseline, readListeningSockets } from "../agent/guest-sockets.js";
import { type DiffOptions, diffRoots } from "./diff.js";
import type { SemanticDiff } from "./diff-types.js";
import { withReadOnlyRoot } from "./disk-view.js";
import { type GeneratedPlaybook, generatePlaybook } from "./playbook/generate.js";
import { mountedRoot } from "./playbook/sandbox-root.js";

/** What a sandbox diff needs from the sandbox manager. */
export interface SandboxDisks {
  disks(id: string): Promise<{ overlay: string; base: string; rootDevice: string | undefined }>;
  /** Puts what a running guest has written on its disk (nothing to do for a stopped one). */
  flush(id: string): Promise<void>;
  /** Whether it runs, and the directory holding its listening baseline. */
  get(id: string): Promise<{ state: string; dir: string }>;
  /** The running guest, to read its listening sockets through. */
  agent(id: string): Promise<GuestReader>;
}

export interface SandboxDiffOptions extends DiffOptions {
  /** Also generate the playbook that reproduces the diff (it reads whole files, so while mounted). */
  withPlaybook?: boolean | undefined;
}

export interface SandboxDiffResult {
  diff: SemanticDiff;
  playbook?: GeneratedPlaybook;
}

/**
 * A sandbox against the image it was created from, both read through read-only disk views, so it
 * works on running and stopped sandboxes alike; a running guest is flushed first. What the guest
 * writes while the diff is read may or may not be seen. Ports exist only while a guest runs: a
 * running sandbox's are compared with what it listened on at its first boot, a stopped one has none.
 */
export async function diffSandbox(
  manager: SandboxDisks,
  id: string,
  options: SandboxDiffOptions = {},
): Promise<SandboxDiffResult> {
  const { overlay, base, rootDevice } = await manager.disks(id);
  const ports = await listeningPorts(manager, id);
  await manager.flush(id);
  const diffAndPlaybook = async (baseRoot: string, sandboxRoot: string): Promise<SandboxDiffResult> => {
    const diff = await diffRoots(baseRoot, sandboxRoot, { ...options, ports });
    if (!options.withPlaybook) return { diff };
    return { diff, playbook: await generatePlaybook(diff.changes, mountedRoot(sandboxRoot)) };
  };
  return withReadOnlyRoot(
    base,
    (baseRoot) => withReadOnlyRoot(overlay, (sandboxRoot) => diffAndPlaybook(baseRoot, sandboxRoot), { rootDevice }),
    { rootDevice },
  );
}

async function listeningPorts(manager: SandboxDisks, id: string): Promise<DiffOptions["ports"]> {
  const { state, dir } = await manager.get(id);
  if (state !== "RUNNING") return undefined;
  const baseline = await loadListeningBaseline(dir);
  if (!baseline) return undefined;
  return { baseline, current: await readListeningSockets(await manager.agent(id)) };
}
