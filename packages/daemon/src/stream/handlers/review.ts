import { DEFAULT_PLAYBOOK_TIMEOUT_SECONDS, runPlaybook } from "../../ansible/run-playbook.js";
import { SandboxError } from "../../errors.js";
import { parseNoiseOverride } from "../../review/noise.js";
import { diffSandbox } from "../../review/sandbox-diff.js";
import { sandboxLimits } from "../../sandboxes/defaults.js";
import type { HandlerTable } from "./types.js";

/** Review: what changed in a sandbox (with a playbook that repeats it) and running a playbook in one. */
export const reviewHandlers: HandlerTable = {
  diffSandbox: async (c, { manager }) => {
    const noise = c.noiseOverrideJson ? parseNoiseOverride(c.noiseOverrideJson) : undefined;
    const { diff, playbook } = await diffSandbox(manager, c.sandboxId, { noise, withPlaybook: c.withPlaybook });
    const json = Buffer.from(JSON.stringify(diff), "utf8");
    const size = json.length + Buffer.byteLength(playbook?.yaml ?? "", "utf8");
    if (size > sandboxLimits.maxDiffBytes) {
      const what = playbook ? "the diff and its playbook are" : "the diff is";
      throw new SandboxError("command_refused", `${what} ${size} bytes; at most ${sandboxLimits.maxDiffBytes} travel`);
    }
    return {
      case: "sandboxDiff",
      value: {
        sandboxId: c.sandboxId,
        diffJson: json,
        hash: diff.hash,
        playbookYaml: playbook?.yaml ?? "",
        playbookNotes: playbook?.notes ?? [],
      },
    };
  },
  runPlaybook: async (c, { manager }) => {
    const result = await runPlaybook(manager, c.sandboxId, {
      playbookYaml: c.playbookYaml,
      check: c.check,
      timeoutSeconds: c.timeoutSeconds > 0 ? c.timeoutSeconds : DEFAULT_PLAYBOOK_TIMEOUT_SECONDS,
    });
    return {
      case: "playbookRun",
      value: {
        sandboxId: c.sandboxId,
        exitCode: result.exitCode,
        recap: result.recap,
        log: result.log,
        logTruncated: result.logTruncated,
        durationMs: BigInt(result.durationMs),
        timedOut: result.timedOut,
      },
    };
  },
};
