import { type DiffOptions, diffRoots, type SemanticDiff } from "./diff.js";
import { withReadOnlyRoot } from "./disk-view.js";

/** What a sandbox diff needs from the sandbox manager. */
export interface SandboxDisks {
  disks(id: string): Promise<{ overlay: string; base: string; rootDevice: string | undefined }>;
  /** Puts what a running guest has written on its disk (nothing to do for a stopped one). */
  flush(id: string): Promise<void>;
}

/**
 * A sandbox against the image it was created from, both read through read-only disk views, so it
 * works on running and stopped sandboxes alike; a running guest is flushed first. What the guest
 * writes while the diff is read may or may not be seen.
 */
export async function diffSandbox(manager: SandboxDisks, id: string, options: DiffOptions = {}): Promise<SemanticDiff> {
  const { overlay, base, rootDevice } = await manager.disks(id);
  await manager.flush(id);
  return withReadOnlyRoot(
    base,
    (baseRoot) => withReadOnlyRoot(overlay, (sandboxRoot) => diffRoots(baseRoot, sandboxRoot, options), { rootDevice }),
    { rootDevice },
  );
}
