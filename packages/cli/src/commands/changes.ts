import type { ChangeRequest, ChangeRequestSummary } from "@fluid/sdk";
import { type Command, Option } from "commander";
import {
  approveChangeRequest,
  createChangeRequest,
  getChangeRequest,
  listChangeRequests,
  rejectChangeRequest,
  replacePlaybook,
  startVerification,
  untilVerified,
} from "../api/change-requests.js";
import type { Connection } from "../connection.js";
import { CliError, EXIT } from "../output.js";
import { registerChangeApplyCommands } from "./change-apply.js";
import { renderChangeRequest, renderChangeRequestList, renderVerification } from "./change-render.js";
import { playbookIdFor } from "./playbooks.js";
import { renderDiff } from "./sandbox-diff.js";
import { readLocal, readStdin } from "./sandbox-files.js";
import { SANDBOX_ARG, sandboxId } from "./sandbox-lookup.js";
import { connectFor, emit, withSpinner } from "./shared.js";

const ID_ARG = "change request id";
const STATES = ["draft", "verifying", "verified", "verification_failed", "approved", "rejected", "applied"];
const VERIFY_POLL_MS = 1000;

interface ApproveOptions {
  comment?: string;
  diffHash?: string;
  playbookHash?: string;
}

interface CreateOptions {
  title: string;
  description?: string;
  playbookFile?: string;
  playbookId?: string;
}

/** `change …`: a sandbox's diff and playbook, verified on a fresh clone and approved by a second person. */
export function registerChangeCommands(program: Command): void {
  const change = program
    .command("change")
    .description("change requests: a sandbox's diff and playbook, verified on a clone, then approved");

  change
    .command("create")
    .description("make a change request from what a sandbox changed, with the playbook its host generates")
    .argument("<sandbox>", SANDBOX_ARG)
    .requiredOption("--title <text>", "one line saying what the change does")
    .option("--description <text>", "why, and anything a reviewer should know")
    .addOption(
      new Option("--playbook-file <file>", "use this Ansible YAML instead of the generated playbook").conflicts(
        "playbookId",
      ),
    )
    .option("--playbook-id <playbook>", "use a playbook written with `fluid playbook` (id or name)")
    .action(async (ref: string, options: CreateOptions, command: Command) => {
      const conn = await connectFor(command);
      const yaml = options.playbookFile === undefined ? undefined : await readText(options.playbookFile);
      const id = await sandboxId(conn, ref);
      const playbook =
        yaml !== undefined
          ? { yaml }
          : options.playbookId !== undefined
            ? { playbook_id: await playbookIdFor(conn, options.playbookId) }
            : undefined;
      const created = await withSpinner(
        command,
        `Diffing ${ref}${playbook ? "" : " and generating its playbook"}`,
        () =>
          createChangeRequest(conn, {
            sandbox_id: id,
            title: options.title,
            ...(options.description === undefined ? {} : { description: options.description }),
            ...(playbook ? { playbook } : {}),
          }),
        (cr) => `Created change request ${cr.id} (${cr.state})`,
      );
      emit(command, created, () => `${renderChangeRequest(created)}\nVerify it: fluid change verify ${created.id}\n`);
    });

  change
    .command("ls")
    .description("list the organization's change requests, newest first")
    .addOption(new Option("--state <state>", "only requests in this state").choices(STATES))
    .action(async (options: { state?: ChangeRequestSummary["state"] }, command: Command) => {
      const conn = await connectFor(command);
      const requests = await listChangeRequests(conn, options.state);
      emit(command, { change_requests: requests, count: requests.length }, () => renderChangeRequestList(requests));
    });

  change
    .command("show")
    .description("show a change request: state, hashes, source, verification and approvals")
    .argument("<id>", ID_ARG)
    .action(async (id: string, _options: unknown, command: Command) => {
      const cr = await getChangeRequest(await connectFor(command), id);
      emit(command, cr, () => renderChangeRequest(cr));
    });

  change
    .command("diff")
    .description("show the change request's diff (what the sandbox changed against its base)")
    .argument("<id>", ID_ARG)
    .action(async (id: string, _options: unknown, command: Command) => {
      const cr = await getChangeRequest(await connectFor(command), id);
      const diff = withheld(cr.diff, "diff");
      emit(command, diff, () => renderDiff(diff, process.stdout.isTTY === true));
    });

  change
    .command("playbook")
    .description("print the change request's playbook as YAML")
    .argument("<id>", ID_ARG)
    .addHelpText("after", "\nExample:\n  fluid change playbook ID > change.yml && $EDITOR change.yml")
    .action(async (id: string, _options: unknown, command: Command) => {
      const cr = await getChangeRequest(await connectFor(command), id);
      const yaml = withheld(cr.playbook, "playbook");
      emit(
        command,
        { id: cr.id, playbook_hash: cr.playbook_hash, playbook: yaml, notes: cr.playbook_notes },
        () => yaml,
      );
    });

  change
    .command("edit")
    .description("replace the playbook: new hash, verification and approvals dropped, back to draft")
    .argument("<id>", ID_ARG)
    .requiredOption("--file <file>", "the new playbook's YAML (- reads stdin)")
    .action(async (id: string, options: { file: string }, command: Command) => {
      const conn = await connectFor(command);
      const yaml = await readText(options.file);
      const edited = await replacePlaybook(conn, id, yaml);
      emit(
        command,
        edited,
        () => `Playbook of ${edited.id} replaced: hash ${edited.playbook_hash}, state ${edited.state}\n`,
      );
    });

  change
    .command("verify")
    .description("verify the playbook on a fresh clone of the same base; waits for the outcome")
    .argument("<id>", ID_ARG)
    .option("--no-wait", "return once the verification has started (state verifying)")
    .addHelpText(
      "after",
      `
A clone of the same image or capture boots on the same host, the playbook runs twice (the second run
must change nothing), and the clone's diff must match the request's. Exits 1 when it fails, naming
every mismatch. Ctrl+C stops waiting, not the verification: see it with fluid change show ID.`,
    )
    .action(async (id: string, options: { wait: boolean }, command: Command) => {
      const conn = await connectFor(command);
      const started = await startVerification(conn, id);
      const result = options.wait ? await waitForVerification(command, conn, started) : started;
      emit(command, result, () => (options.wait ? renderVerification(result) : `Verifying ${result.id}\n`));
      if (result.state === "verification_failed") process.exitCode = EXIT.failure;
    });

  change
    .command("approve")
    .description("approve a verified change request at its current hashes (admin, not its author)")
    .argument("<id>", ID_ARG)
    .option("--comment <text>", "recorded with the approval")
    .option("--diff-hash <sha256>", "the diff hash you reviewed (default: the current one)")
    .option("--playbook-hash <sha256>", "the playbook hash you reviewed (default: the current one)")
    .addHelpText(
      "after",
      "\nThe approval binds to the diff and playbook hashes it names: an edit after it leaves it stale. Pass the\n" +
        "hashes `fluid change show` printed to be sure you approve what you read (409 if it changed since).",
    )
    .action(async (id: string, options: ApproveOptions, command: Command) => {
      const conn = await connectFor(command);
      const current = await getChangeRequest(conn, id);
      const diff_hash = options.diffHash ?? current.diff_hash;
      const playbook_hash = options.playbookHash ?? current.playbook_hash;
      const approved = await approveChangeRequest(conn, id, {
        diff_hash,
        playbook_hash,
        ...(options.comment === undefined ? {} : { comment: options.comment }),
      });
      emit(
        command,
        approved,
        () => `Approved ${approved.id} at\n  diff hash      ${diff_hash}\n  playbook hash  ${playbook_hash}\n`,
      );
    });

  change
    .command("reject")
    .description("reject a change request (admin)")
    .argument("<id>", ID_ARG)
    .option("--comment <text>", "why, recorded with the rejection")
    .action(async (id: string, options: { comment?: string }, command: Command) => {
      const conn = await connectFor(command);
      const rejected = await rejectChangeRequest(
        conn,
        id,
        options.comment === undefined ? {} : { comment: options.comment },
      );
      emit(command, rejected, () => `Rejected ${rejected.id}\n`);
    });

  registerChangeApplyCommands(change);
}

function waitForVerification(command: Command, conn: Connection, started: ChangeRequest): Promise<ChangeRequest> {
  const text = `Verifying ${started.title} on a fresh clone`;
  return withSpinner(
    command,
    text,
    (update) =>
      untilVerified(conn, started, {
        intervalMs: VERIFY_POLL_MS,
        onPoll: (_cr, elapsed) => update(`${text} (${elapsed} s)`),
      }),
    (cr) => `${cr.id} is ${cr.state}`,
  );
}

/** Contents the server withholds from viewers and from members reading another's request. */
function withheld<T>(value: T | null, what: string): T {
  if (value !== null) return value;
  throw new CliError(`the ${what} is withheld: only the request's author and admins may read it`, {
    code: "forbidden",
  });
}

async function readText(file: string): Promise<string> {
  return (file === "-" ? await readStdin() : await readLocal(file)).toString("utf8");
}
