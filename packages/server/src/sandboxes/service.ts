import type { ProcessSignal, ResourceReport, SandboxProgress, SandboxStateChanged } from "@fluid/proto";
import type { Kysely } from "kysely";
import type { AuditActor } from "../audit/append.js";
import type { ServerConfig } from "../config/config.js";
import type { Command, DB, EndReason, Sandbox, SandboxState, Snapshot } from "../db/schema.js";
import type { Logger } from "../log/logger.js";
import type { ServerMetrics } from "../metrics/metrics.js";
import type { OrgScope } from "../orgs/access.js";
import type { HostRouter } from "../replicas/hosts.js";
import type { TerminalWatcher } from "../stream/host-session.js";
import type { ReplyValue } from "../stream/replies.js";
import { assertCanModify, assertState } from "./access.js";
import { listCommands, type RunInput, type RunListener, runCommand, runPlaybook } from "./commands.js";
import type { SandboxDeps } from "./deps.js";
import type { NoiseOverride, SandboxDiff } from "./diff.js";
import { type EgressPolicy, setSandboxEgress } from "./egress.js";
import { diffSandbox, listFiles, type ReviewedDiff, readFile, writeFile } from "./files.js";
import { HostClient } from "./host-client.js";
import { compensate, createSandbox, destroySandbox, extendSandbox, startSandbox, stopSandbox } from "./lifecycle.js";
import type { HostDeadlines } from "./limits.js";
import * as processes from "./processes.js";
import {
  endOnLostHosts,
  type Reporter,
  reapExpired,
  reconcileReport,
  recordProgress,
  recordStateChange,
} from "./reconcile.js";
import type { CreateSandboxInput } from "./reservation.js";
import { createSnapshot, deleteSnapshot, listSnapshots, restoreSnapshot } from "./snapshots.js";
import { endSandbox, getOwnSnapshot, getSandbox, listSandboxes } from "./store.js";
import { openTerminal, terminalSandbox } from "./terminals.js";

export type { RunInput } from "./commands.js";
export type { CreateSandboxInput } from "./reservation.js";

/**
 * Sandboxes as the control plane sees them, in one place for routes, jobs and the host stream; each
 * concern lives in its own module (store, access, reservation, lifecycle, commands, files,
 * snapshots, reconcile) and talks to hosts through one HostClient.
 */
export class SandboxService {
  readonly host: HostClient;
  private readonly deps: SandboxDeps;
  private readonly provisioning = new Set<Promise<unknown>>();

  constructor(deps: {
    db: Kysely<DB>;
    config: ServerConfig;
    log: Logger;
    hosts: HostRouter;
    deadlines?: Partial<HostDeadlines>;
    metrics?: Pick<ServerMetrics, "time">;
  }) {
    this.host = new HostClient(deps.hosts, deps.deadlines);
    const metrics = deps.metrics;
    this.deps = {
      db: deps.db,
      config: deps.config,
      log: deps.log,
      host: this.host,
      timed: metrics ? (what, work) => metrics.time(what, work) : (_what, work) => work,
    };
  }

  /** The host client's deadlines (tests shorten them in place). */
  get deadlines(): HostDeadlines {
    return this.host.deadlines;
  }

  /** Waits for creations still talking to hosts (used at shutdown and by tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.provisioning]);
  }

  private track(work: Promise<unknown>): void {
    this.provisioning.add(work);
    const done = () => this.provisioning.delete(work);
    work.then(done, done);
  }

  get(scope: OrgScope, id: string): Promise<Sandbox> {
    return getSandbox(this.deps.db, scope, id);
  }

  list(scope: OrgScope, page: Parameters<typeof listSandboxes>[2]): Promise<Sandbox[]> {
    return listSandboxes(this.deps.db, scope, page);
  }

  create(scope: OrgScope, input: CreateSandboxInput, options: { wait: boolean }): Promise<Sandbox> {
    return createSandbox(this.deps, (work) => this.track(work), scope, input, options);
  }

  compensate(sandbox: Sandbox): Promise<void> {
    return compensate(this.deps, sandbox);
  }

  end(
    id: string,
    reason: EndReason,
    state: SandboxState,
    options: { error?: string | undefined; actor?: AuditActor } = {},
  ): Promise<Sandbox | undefined> {
    return endSandbox(this.deps.db, id, reason, state, options);
  }

  assertCanModify(scope: OrgScope, sandbox: Sandbox): void {
    assertCanModify(scope, sandbox);
  }

  assertState(sandbox: Sandbox, allowed: SandboxState[], action: string): void {
    assertState(sandbox, allowed, action);
  }

  destroy(scope: OrgScope, id: string): Promise<Sandbox> {
    return destroySandbox(this.deps, scope, id);
  }

  start(scope: OrgScope, id: string): Promise<Sandbox> {
    return startSandbox(this.deps, scope, id);
  }

  stop(scope: OrgScope, id: string, force: boolean): Promise<Sandbox> {
    return stopSandbox(this.deps, scope, id, force);
  }

  extend(scope: OrgScope, id: string, ttlSeconds: number): Promise<Sandbox> {
    return extendSandbox(this.deps, scope, id, ttlSeconds);
  }

  setEgress(scope: OrgScope, id: string, policy: EgressPolicy): Promise<Sandbox> {
    return setSandboxEgress(this.deps, scope, id, policy);
  }

  /** Background processes in running sandboxes (processes.ts). */
  get processes() {
    const deps = this.deps;
    return {
      start: (scope: OrgScope, id: string, input: Parameters<typeof processes.startProcess>[3]) =>
        processes.startProcess(deps, scope, id, input),
      list: (scope: OrgScope, id: string, processId?: string) => processes.listProcesses(deps, scope, id, processId),
      readLog: (scope: OrgScope, id: string, input: Parameters<typeof processes.readProcessLog>[3]) =>
        processes.readProcessLog(deps, scope, id, input),
      input: (scope: OrgScope, id: string, processId: string, data: Uint8Array, close?: boolean) =>
        processes.writeProcessInput(deps, scope, id, processId, data, close),
      signal: (scope: OrgScope, id: string, processId: string, signal: ProcessSignal) =>
        processes.signalProcess(deps, scope, id, processId, signal),
    };
  }

  /** A terminal (PTY session) in a running sandbox (terminals.ts). */
  openTerminal(
    scope: OrgScope,
    id: string,
    size: { cols: number; rows: number },
    watcher: TerminalWatcher,
  ): ReturnType<typeof openTerminal> {
    return openTerminal(this.deps, scope, id, size, watcher);
  }

  /** Refuses (as openTerminal would) a caller who may not open a terminal in the sandbox. */
  async checkTerminal(scope: OrgScope, id: string): Promise<void> {
    await terminalSandbox(this.deps, scope, id);
  }

  run(scope: OrgScope, id: string, input: RunInput): Promise<Command> {
    return runCommand(this.deps, scope, id, input);
  }

  /** Runs a command, handing its output to `listener` as the host produces it. */
  runStreaming(
    scope: OrgScope,
    id: string,
    input: RunInput,
    listener: RunListener,
  ): Promise<Command & { live: boolean }> {
    return runCommand(this.deps, scope, id, input, listener);
  }

  commands(
    scope: OrgScope,
    id: string,
    page: { limit: number; offset: number },
  ): Promise<{ rows: Command[]; withOutput: boolean }> {
    return listCommands(this.deps, scope, id, page);
  }

  runPlaybook(
    scope: OrgScope,
    id: string,
    input: { yaml: string; timeoutSeconds: number },
  ): Promise<ReplyValue<"playbookRun">> {
    return runPlaybook(this.deps, scope, id, input);
  }

  snapshot(scope: OrgScope, id: string, input: { name: string; includeMemory: boolean }): Promise<Snapshot> {
    return createSnapshot(this.deps, scope, id, input);
  }

  snapshots(scope: OrgScope, id: string): Promise<Snapshot[]> {
    return listSnapshots(this.deps, scope, id);
  }

  ownSnapshot(scope: OrgScope, sandboxId: string, snapshotId: string): Promise<Snapshot> {
    return getOwnSnapshot(this.deps.db, scope, sandboxId, snapshotId);
  }

  deleteSnapshot(scope: OrgScope, sandboxId: string, snapshotId: string): Promise<void> {
    return deleteSnapshot(this.deps, scope, sandboxId, snapshotId);
  }

  restore(scope: OrgScope, id: string, snapshotId: string): Promise<Sandbox> {
    return restoreSnapshot(this.deps, scope, id, snapshotId);
  }

  readFile(scope: OrgScope, id: string, path: string, maxBytes: number) {
    return readFile(this.deps, scope, id, path, maxBytes);
  }

  writeFile(scope: OrgScope, id: string, input: { path: string; content: Uint8Array; mode?: number | undefined }) {
    return writeFile(this.deps, scope, id, input);
  }

  listFiles(scope: OrgScope, id: string, path: string) {
    return listFiles(this.deps, scope, id, path);
  }

  async diff(scope: OrgScope, id: string, noise: NoiseOverride | undefined): Promise<SandboxDiff> {
    return (await diffSandbox(this.deps, scope, id, { noise, withPlaybook: false })).diff;
  }

  /** The diff a change request is made of, with the playbook the host generates from it when asked. */
  diffForReview(scope: OrgScope, id: string, options: { withPlaybook: boolean }): Promise<ReviewedDiff> {
    return diffSandbox(this.deps, scope, id, { noise: undefined, withPlaybook: options.withPlaybook });
  }

  onResourceReport(host: Reporter, report: ResourceReport): Promise<void> {
    return reconcileReport(this.deps, host, report);
  }

  onProgress(host: Reporter, progress: SandboxProgress): Promise<void> {
    return recordProgress(this.deps, host, progress);
  }

  onStateChanged(host: Reporter, change: SandboxStateChanged): Promise<void> {
    return recordStateChange(this.deps, host, change);
  }

  reapExpired(batch?: number): Promise<number> {
    return reapExpired(this.deps, batch);
  }

  endOnLostHosts(): Promise<number> {
    return endOnLostHosts(this.deps);
  }
}
