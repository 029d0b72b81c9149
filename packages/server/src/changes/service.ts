import type { Kysely } from "kysely";
import { appendAuditEvent, auditActorOf } from "../audit/append.js";
import { atLeast } from "../auth/roles.js";
import type { ChangeRequest, ChangeRequestApproval, ChangeRequestState, DB } from "../db/schema.js";
import { AppError, conflict, forbidden } from "../http/errors.js";
import { newId } from "../lib/ids.js";
import type { Logger } from "../log/logger.js";
import type { OrgScope } from "../orgs/access.js";
import { renderPlaybook } from "../playbooks/render.js";
import { getPlaybook, listTasks } from "../playbooks/store.js";
import type { SandboxService } from "../sandboxes/service.js";
import type { SourceRelay } from "../sources/relay.js";
import { type ApplyOptions, applyChangeRequest } from "./apply.js";
import { endStaleWork, endWorkStartedBefore, WORK_STALE_MS, WorkRenewal } from "./interrupted.js";
import { assertPlaybookYaml, playbookHash } from "./playbook-text.js";
import { assertAllowed, stateAfter } from "./states.js";
import {
  finishVerification,
  getChangeRequest,
  insertChangeRequest,
  listChangeRequests,
  listDecisions,
  recordDecision,
  replacePlaybook,
  startVerification,
} from "./store.js";
import { verifyOnClone } from "./verification.js";

export interface CreateChangeRequestInput {
  sandboxId: string;
  title: string;
  description: string;
  /** Raw YAML, or an agent-authored playbook by id; absent: the one the host generates from the diff. */
  playbook?: { yaml: string } | { playbookId: string } | undefined;
}

/**
 * Change requests (SPEC §7): made from a sandbox's diff and a playbook, verified on a fresh clone in
 * the background, approved by someone other than their author against the exact hashes.
 */
export class ChangeRequestService {
  private readonly db: Kysely<DB>;
  private readonly log: Logger;
  private readonly sandboxes: SandboxService;
  private readonly sources: SourceRelay;
  private readonly running = new Set<Promise<void>>();
  private readonly renewal: WorkRenewal;

  constructor(deps: { db: Kysely<DB>; log: Logger; sandboxes: SandboxService; sources: SourceRelay }) {
    this.db = deps.db;
    this.log = deps.log;
    this.sandboxes = deps.sandboxes;
    this.sources = deps.sources;
    this.renewal = new WorkRenewal(deps.db, (err) => this.log.warn({ err }, "could not renew change-request claims"));
  }

  /** One change-request event in the org's audit chain, after the change it records has committed. */
  private audit(scope: OrgScope, action: string, request: ChangeRequest, details: Record<string, unknown> = {}) {
    return appendAuditEvent(this.db, {
      orgId: scope.orgId,
      actor: auditActorOf(scope.principal),
      action: `change_request.${action}`,
      target: { type: "change_request", id: request.id },
      details: { state: request.state, diff_hash: request.diff_hash, playbook_hash: request.playbook_hash, ...details },
    });
  }

  /**
   * At start with one process per database (PGlite): verifications left `verifying` and applies left
   * claimed by this server's previous run are failed and released at once, not left waiting forever.
   */
  async failInterrupted(startedBefore: Date): Promise<void> {
    this.logEnded(await endWorkStartedBefore(this.db, startedBefore));
  }

  /**
   * With several replicas (a periodic job): only work whose server stopped renewing it is ended, so a
   * replica starting never fails what another live replica is running.
   */
  async failStale(staleMs = WORK_STALE_MS): Promise<void> {
    this.logEnded(await endStaleWork(this.db, staleMs));
  }

  private logEnded({ failed, released }: { failed: number; released: number }) {
    if (failed > 0) this.log.warn({ failed }, "verifications interrupted by a server stop marked failed");
    // An apply claimed by a server that stopped is released: its outcome on the VM is unknown, and the
    // next attempt's drift check and check-mode run show what it did.
    if (released > 0) this.log.warn({ released }, "applies interrupted by a server stop released");
  }

  /** Waits for verifications still running (used at shutdown and by tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running]);
    this.renewal.stop();
  }

  async create(scope: OrgScope, input: CreateChangeRequestInput): Promise<ChangeRequest> {
    // Asking for the diff checks that the caller may read the sandbox (its creator or an admin).
    const generated = await this.sandboxes.diffForReview(scope, input.sandboxId, {
      withPlaybook: input.playbook === undefined,
    });
    const { sandbox, diff } = generated;
    let playbook: { yaml: string; origin: "generated" | "authored"; notes: string[] };
    if (input.playbook === undefined) {
      if (!generated.playbookYaml) throw new AppError("host_error", "the host sent no playbook with the diff");
      playbook = { yaml: generated.playbookYaml, origin: "generated", notes: generated.playbookNotes };
    } else if ("yaml" in input.playbook) {
      assertPlaybookYaml(input.playbook.yaml);
      playbook = { yaml: input.playbook.yaml, origin: "authored", notes: [] };
    } else {
      const authored = await getPlaybook(this.db, scope, input.playbook.playbookId);
      const yaml = renderPlaybook(authored, await listTasks(this.db, scope, authored.id));
      playbook = { yaml, origin: "authored", notes: [] };
    }
    const created = await insertChangeRequest(this.db, {
      id: newId(),
      org_id: scope.orgId,
      sandbox_id: sandbox.id,
      source_kind: sandbox.source_host_id ? "source_vm" : "image",
      source_vm: sandbox.source_vm,
      source_host_id: sandbox.source_host_id,
      source_captured_at: sandbox.source_captured_at,
      title: input.title,
      description: input.description,
      author_id: scope.principal.userId,
      author_key_id: scope.principal.kind === "api_key" ? scope.principal.keyId : null,
      diff: JSON.stringify(diff),
      diff_hash: diff.hash,
      playbook: playbook.yaml,
      playbook_hash: playbookHash(playbook.yaml),
      playbook_origin: playbook.origin,
      playbook_notes: JSON.stringify(playbook.notes),
      state: "draft",
      verification: null,
      verification_run: null,
      verification_started_at: null,
    });
    await this.audit(scope, "created", created, {
      title: created.title,
      sandbox_id: created.sandbox_id,
      playbook_origin: created.playbook_origin,
    });
    return created;
  }

  get(scope: OrgScope, id: string): Promise<ChangeRequest> {
    return getChangeRequest(this.db, scope, id);
  }

  list(scope: OrgScope, filter: { state?: ChangeRequestState | undefined; limit: number; offset: number }) {
    return listChangeRequests(this.db, scope, filter);
  }

  decisions(scope: OrgScope, id: string): Promise<ChangeRequestApproval[]> {
    return listDecisions(this.db, scope, id);
  }

  /** A new playbook (author or admin): new hash, verification and current approvals gone, back to draft. */
  async editPlaybook(scope: OrgScope, id: string, yaml: string): Promise<ChangeRequest> {
    const current = await this.get(scope, id);
    if (current.author_id !== scope.principal.userId && !atLeast(scope.role, "admin")) {
      throw forbidden("only the change request's author or an admin can edit its playbook");
    }
    assertAllowed("edit", current.state);
    assertPlaybookYaml(yaml);
    const edited = await replacePlaybook(this.db, scope, id, { yaml, hash: playbookHash(yaml) });
    if (edited) {
      await this.audit(scope, "playbook_edited", edited, { previous_playbook_hash: current.playbook_hash });
      return edited;
    }
    // Applied between the read and the update: refuse with the state it has now.
    assertAllowed("edit", (await this.get(scope, id)).state);
    throw conflict("the change request changed meanwhile; retry");
  }

  /** Starts a verification in the background and answers with the request in state verifying. */
  async verify(scope: OrgScope, id: string): Promise<ChangeRequest> {
    const current = await this.get(scope, id);
    assertAllowed("verify", current.state);
    const sandbox = await this.sandboxes.get(scope, current.sandbox_id);
    const source = current.source_host_id ? await this.sources.connectionFor(scope, current.source_host_id) : undefined;
    const runId = newId();
    const verifying = await startVerification(this.db, scope, id, runId);
    if (!verifying) {
      assertAllowed("verify", (await this.get(scope, id)).state);
      throw conflict("the change request changed meanwhile; retry");
    }
    const untrack = this.renewal.track(id);
    const run = (async () => {
      const verification = await verifyOnClone({ sandboxes: this.sandboxes, log: this.log }, scope, {
        request: verifying,
        hostId: sandbox.host_id,
        allowEgress: sandbox.allow_egress,
        source,
      });
      const stored = await finishVerification(this.db, scope.orgId, id, runId, verification);
      if (!stored) {
        this.log.info({ changeRequestId: id }, "verification result discarded: the request changed");
        return;
      }
      await this.audit(scope, verification.passed ? "verified" : "verification_failed", verifying, {
        state: verification.passed ? "verified" : "verification_failed",
        first_run_changed: verification.first_run_changed,
        second_run_changed: verification.second_run_changed,
        equivalent: verification.equivalent,
        mismatches: verification.mismatches.length,
        clone_sandbox_id: verification.clone_sandbox_id,
        ...(verification.error ? { error: verification.error } : {}),
      });
    })()
      .catch((err: unknown) => this.log.error({ err, changeRequestId: id }, "could not record a verification"))
      .finally(untrack);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    await this.audit(scope, "verification_started", verifying);
    return verifying;
  }

  /**
   * Approves the exact hashes the approver saw (admin+, route-checked). Two-person rule: the author may
   * not approve unless the org allows self-approval.
   */
  async approve(
    scope: OrgScope,
    id: string,
    input: { diffHash: string; playbookHash: string; comment: string },
  ): Promise<ChangeRequest> {
    const org = await this.db
      .selectFrom("orgs")
      .select("allow_self_approval")
      .where("id", "=", scope.orgId)
      .executeTakeFirstOrThrow();
    const approved = await recordDecision(
      this.db,
      scope,
      id,
      { kind: "approve", comment: input.comment, state: stateAfter.approve },
      (row) => {
        if (row.author_id === scope.principal.userId && !org.allow_self_approval) {
          throw forbidden("you cannot approve a change request you authored (two-person rule)");
        }
        if (row.diff_hash !== input.diffHash || row.playbook_hash !== input.playbookHash) {
          throw conflict("the change request changed since you read it: its diff or playbook hash differs");
        }
        assertAllowed("approve", row.state);
      },
    );
    await this.audit(scope, "approved", approved, { comment: input.comment });
    return approved;
  }

  /** Applies an approved request to its source VM, or only checks it there (apply.ts). */
  async apply(scope: OrgScope, id: string, options: ApplyOptions) {
    const untrack = this.renewal.track(id);
    try {
      return await applyChangeRequest({ db: this.db, sources: this.sources }, scope, id, options);
    } finally {
      untrack();
    }
  }

  async reject(scope: OrgScope, id: string, comment: string): Promise<ChangeRequest> {
    const rejected = await recordDecision(
      this.db,
      scope,
      id,
      { kind: "reject", comment, state: stateAfter.reject },
      (row) => assertAllowed("reject", row.state),
    );
    await this.audit(scope, "rejected", rejected, { comment });
    return rejected;
  }
}
