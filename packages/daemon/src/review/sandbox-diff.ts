import { type DiffOptions, diffRoots, type SemanticDiff } from "./diff.js";
import { withReadOnlyRoot } from "./disk-view.js";

/** What a sandbox diff needs from the sandbox manager. */
export interface SandboxDisks {
  disks(id: string): Promise<{ overlay: string; base: string; rootDevice: string | undefined }>;
}

/**
 * A sandbox against the image it was created from, both read through read-only disk views, so it
 * works on running and stopped sandboxes alike. A running guest's unflushed writes are not seen.
 */
export async function diffSandbox(manager: SandboxDisks, id: string, options: DiffOptions = {}): Promise<SemanticDiff> {
  const { overlay, base, rootDevice } = await manager.disks(id);
  return withReadOnlyRoot(
    base,
    (baseRoot) => withReadOnlyRoot(overlay, (sandboxRoot) => diffRoots(baseRoot, sandboxRoot, options), { rootDevice }),
    { rootDevice },
  );
}
