import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked } from "../system/run.js";

/** The key types `ssh-keygen -A` makes, so a clone has a fresh key for every type its parent had. */
export const HOST_KEY_TYPES = ["rsa", "ecdsa", "ed25519"] as const;

/**
 * Fresh SSH host keys for a clone, made on the host: `ssh-keygen -A` inside a guest just resumed
 * under TCG takes 20-30 s (RSA), which is most of a fork. Returned as the files to write to the
 * guest's /etc/ssh, private keys first.
 */
export async function generateHostKeys(hostname: string): Promise<Array<{ path: string; data: Buffer }>> {
  const dir = await mkdtemp(join(tmpdir(), "fluid-host-keys-"));
  try {
    const keys = await Promise.all(
      HOST_KEY_TYPES.map(async (type) => {
        const file = join(dir, `ssh_host_${type}_key`);
        await runChecked(["ssh-keygen", "-q", "-t", type, "-N", "", "-C", `root@${hostname}`, "-f", file]);
        return { type, key: await readFile(file), pub: await readFile(`${file}.pub`) };
      }),
    );
    return keys.flatMap(({ type, key, pub }) => [
      { path: `/etc/ssh/ssh_host_${type}_key`, data: key },
      { path: `/etc/ssh/ssh_host_${type}_key.pub`, data: pub },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
