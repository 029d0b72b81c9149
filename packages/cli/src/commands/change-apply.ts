import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { applyChangeRequest, exportChangeRequest } from "../api/change-requests.js";
import { EXIT } from "../output.js";
import { connectFor, emit, withSpinner } from "./shared.js";

const ID_ARG = "change request id";

/** `change export` and `change apply`: taking an approved change to production. */
export function registerChangeApplyCommands(change: Command): void {
  change
    .command("export")
    .description("write the change as files: playbook, inventory, diff, verification report, hashes")
    .argument("<id>", ID_ARG)
    .option("-o, --out <dir>", "directory to write to (created; default ./change-<id>)")
    .action(async (id: string, options: { out?: string }, command: Command) => {
      const conn = await connectFor(command);
      const bundle = await exportChangeRequest(conn, id);
      const dir = options.out ?? `change-${id}`;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const files: Record<string, string> = {
        "playbook.yml": bundle.playbook,
        "inventory.ini": bundle.inventory,
        "diff.json": `${JSON.stringify(bundle.diff, null, 2)}\n`,
        "verification.json": `${JSON.stringify(bundle.verification, null, 2)}\n`,
        "change-request.json": `${JSON.stringify(
          { ...bundle.change_request, approvals: bundle.approvals, format: bundle.format },
          null,
          2,
        )}\n`,
        // sha256sum -c checks the playbook; the diff's hash is over its canonical JSON, recorded here.
        SHA256SUMS: `${bundle.playbook_hash}  playbook.yml\n# diff_hash ${bundle.diff_hash}\n`,
      };
      for (const [name, text] of Object.entries(files)) {
        await writeFile(join(dir, name), text, { mode: 0o600 });
        await chmod(join(dir, name), 0o600);
      }
      emit(command, { dir, files: Object.keys(files), ...bundle }, () =>
        [
          `Wrote ${Object.keys(files).length} files to ${dir}`,
          `  playbook hash  ${bundle.playbook_hash}`,
          `  diff hash      ${bundle.diff_hash}`,
          `Apply it yourself: ansible-playbook -i ${join(dir, "inventory.ini")} ${join(dir, "playbook.yml")}`,
          "",
        ].join("\n"),
      );
    });

  change
    .command("apply")
    .description("apply an approved change to its source VM: drift check, --check --diff run, then once for real")
    .argument("<id>", ID_ARG)
    .option("--check-only", "stop after the check-mode run: nothing on the VM changes")
    .option("--timeout <seconds>", "per ansible-playbook run (60-3600)", (v) => Number.parseInt(v, 10))
    .addHelpText(
      "after",
      "\nOnly for a source host whose owner enabled apply (`PUT …/source-hosts/{id}/apply`); refused with what\n" +
        "changed when the files the change touches are no longer as captured.",
    )
    .action(async (id: string, options: { checkOnly?: boolean; timeout?: number }, command: Command) => {
      const conn = await connectFor(command);
      const text = options.checkOnly ? "Checking the change on its source VM" : "Applying the change to its source VM";
      const answer = await withSpinner(
        command,
        text,
        () =>
          applyChangeRequest(conn, id, {
            ...(options.checkOnly ? { check_only: true } : {}),
            ...(options.timeout ? { timeout_seconds: options.timeout } : {}),
          }),
        (a) => `${id}: ${a.result.outcome}`,
      );
      const { result } = answer;
      emit(command, answer, () => {
        const lines = [`Outcome: ${result.outcome}`];
        for (const [name, run] of [
          ["check run", result.check],
          ["apply run", result.apply],
        ] as const) {
          if (!run) continue;
          const recap = run.recap ? `changed=${run.recap.changed} failed=${run.recap.failed}` : "no recap";
          lines.push(`${name}: exit ${run.exit_code}, ${recap}, ${Math.round(run.duration_ms / 1000)} s`);
          if (run.log_excerpt) lines.push(indent(run.log_excerpt.slice(-4000)));
        }
        if (result.error) lines.push(`error: ${result.error}`);
        return `${lines.join("\n")}\n`;
      });
      if (result.outcome !== "applied" && result.outcome !== "checked") process.exitCode = EXIT.failure;
    });
}

const indent = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
