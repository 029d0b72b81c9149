import type { Sandbox } from "../db/schema.js";
import { templateForImage } from "./templates.js";

/**
 * The envd version fluid claims: new enough that the SDK sends no default user and may upload as
 * application/octet-stream, old enough that it asks for nothing fluid lacks (file metadata, 0.6.2).
 */
export const ENVD_VERSION = "0.5.7";
export const CLIENT_ID = "fluid";

/** E2B knows two states; a stopped fluid sandbox is the nearest thing to a paused one. */
export function e2bState(sandbox: Sandbox): "running" | "paused" {
  return sandbox.state === "STOPPED" ? "paused" : "running";
}

/** A sandbox as E2B's list and detail answers describe it. */
export function listedSandboxView(sandbox: Sandbox) {
  return {
    sandboxID: sandbox.id,
    templateID: templateForImage(sandbox.source_vm),
    alias: sandbox.name,
    clientID: CLIENT_ID,
    startedAt: sandbox.created_at.toISOString(),
    endAt: sandbox.expires_at.toISOString(),
    cpuCount: sandbox.vcpus,
    memoryMB: sandbox.memory_mb,
    diskSizeMB: 0,
    metadata: sandbox.metadata,
    state: e2bState(sandbox),
    envdVersion: ENVD_VERSION,
  };
}

export function sandboxDetailView(sandbox: Sandbox) {
  return { ...listedSandboxView(sandbox), domain: null };
}

/** The answer to create and connect; the access token is the caller's own key (see auth.ts). */
export function newSandboxView(sandbox: Sandbox, accessToken: string) {
  return {
    sandboxID: sandbox.id,
    templateID: templateForImage(sandbox.source_vm),
    alias: sandbox.name,
    clientID: CLIENT_ID,
    envdVersion: ENVD_VERSION,
    envdAccessToken: accessToken,
    domain: null,
  };
}
