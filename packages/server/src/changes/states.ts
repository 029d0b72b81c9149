import type { ChangeRequestState } from "../db/schema.js";
import { AppError } from "../http/errors.js";

export const changeRequestStates = [
  "draft",
  "verifying",
  "verified",
  "verification_failed",
  "approved",
  "rejected",
  "applied",
] as const satisfies readonly ChangeRequestState[];

export type ChangeRequestAction = "edit" | "verify" | "approve" | "reject";

/**
 * The states each action may start from (SPEC §7: draft → verifying → verified |
 * verification_failed → approved | rejected → applied). An edit returns any request not yet applied
 * to draft; approval needs a verification that passed; a request already approved must be edited
 * (and so verified again) before it is verified anew.
 */
const allowedFrom: Record<ChangeRequestAction, readonly ChangeRequestState[]> = {
  edit: ["draft", "verifying", "verified", "verification_failed", "approved", "rejected"],
  verify: ["draft", "verified", "verification_failed"],
  approve: ["verified"],
  reject: ["draft", "verifying", "verified", "verification_failed", "approved"],
};

/** The state an action leads to. */
export const stateAfter: Record<ChangeRequestAction, ChangeRequestState> = {
  edit: "draft",
  verify: "verifying",
  approve: "approved",
  reject: "rejected",
};

export function allows(action: ChangeRequestAction, state: ChangeRequestState): boolean {
  return allowedFrom[action].includes(state);
}

/** States `action` may start from, for the store's conditional updates. */
export function statesFor(action: ChangeRequestAction): ChangeRequestState[] {
  return [...allowedFrom[action]];
}

const participle: Record<ChangeRequestAction, string> = {
  edit: "edited",
  verify: "verified",
  approve: "approved",
  reject: "rejected",
};

/** Refuses `action` in `state` with a 409 saying why. */
export function assertAllowed(action: ChangeRequestAction, state: ChangeRequestState): void {
  if (allows(action, state)) return;
  const why =
    action === "approve"
      ? "only a verified change request can be approved"
      : action === "verify" && state === "verifying"
        ? "a verification is already running"
        : `a change request that is ${state} cannot be ${participle[action]}`;
  throw new AppError("invalid_state", `${why} (state: ${state})`);
}
