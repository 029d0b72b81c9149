import { type DiffOptions, diffRoots, type SemanticDiff } from "./diff.js";
import { withReadOnlyRoot } from "./disk-view.js";
import { type GeneratedPlaybook, generatePlaybook } from "./playbook/generate.js";
import { mountedRoot } from "./playbook/sandbox-root.js";

/** What a sandbox diff needs from the sandbox manager. */
export interface SandboxDisks {
  disks(id: string): Promise<{ overlay: string; base: string; rootDevice: string | undefined }>;
  /** Puts what a running guest has written on its disk (nothing to do for a stopped one). */
  flush(id: string): Promise<void>;
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
 * writes while the diff is read may or may not be seen.
 */
export async function diffSandbox(
  manager: SandboxDisks,
  id: string,
  options: SandboxDiffOptions = {},
): Promise<SandboxDiffResult> {
  const { overlay, base, rootDevice } = await manager.disks(id);
  await manager.flush(id);
  const diffAndPlaybook = async (baseRoot: string, sandboxRoot: string): Promise<SandboxDiffResult> => {
    const diff = await diffRoots(baseRoot, sandboxRoot, options);
    if (!options.withPlaybook) return { diff };
    return { diff, playbook: await generatePlaybook(diff.changes, mountedRoot(sandboxRoot)) };
  };
  return withReadOnlyRoot(
    base,
    (baseRoot) => withReadOnlyRoot(overlay, (sandboxRoot) => diffAndPlaybook(baseRoot, sandboxRoot), { rootDevice }),
    { rootDevice },
  );
}
