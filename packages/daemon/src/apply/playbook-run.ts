import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { playbookArgv, playbookEnv, runFiles } from "../ansible/invocation.js";
import { runInProcessGroup } from "../ansible/process-group.js";
import { parseRecap } from "../ansible/recap.js";
import { MAX_PLAYBOOK_LOG_BYTES, type PlaybookRunResult } from "../ansible/run-playbook.js";
import type { SourcePlaybookExecutor } from "./access.js";

/**
 * The apply run with the sandbox runner's invocation (argv, private environment, process-group
 * timeout, log tail, recap parser), pointed at a source VM: ssh reads the open connection's
 * ssh_config (`-F`), so every ansible connection multiplexes over the one ApplyAccess opened
 * through the libvirt host with the host keys pinned, and the inventory's one host is its alias.
 */
export const runApplyPlaybook: SourcePlaybookExecutor = async (input) => {
  const files = runFiles(await mkdtemp(join(tmpdir(), "fluid-apply-run-")));
  try {
    await writeFile(files.inventory, `${input.hostAlias}\n`, { mode: 0o600 });
    await writeFile(files.playbook, input.playbookYaml, { mode: 0o600 });
    await writeFile(files.privateKey, input.privateKey, { mode: 0o600 });
    await writeFile(files.config, "", { mode: 0o600 });
    await mkdir(files.localTemp, { recursive: true, mode: 0o700 });
    const env = { ...playbookEnv(files, process.env.PATH), ANSIBLE_SSH_ARGS: `-F ${input.sshConfigFile}` };
    const result = await runInProcessGroup(playbookArgv(files, { check: input.check }), {
      env,
      cwd: files.dir,
      timeoutMs: input.timeoutSeconds * 1000,
      maxLogBytes: MAX_PLAYBOOK_LOG_BYTES,
    });
    const outcome: PlaybookRunResult = {
      ...result,
      recap: result.timedOut ? undefined : parseRecap(result.log, input.hostAlias),
    };
    return outcome;
  } finally {
    await rm(files.dir, { recursive: true, force: true });
  }
};
