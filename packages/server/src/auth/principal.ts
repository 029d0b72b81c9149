import type { FastifyRequest } from "fastify";
import type { Role } from "../db/schema.js";
import { AppError } from "../http/errors.js";

export const API_KEY_PREFIX = "fl_";

/** Who is calling: a signed-in user (cookie) or an org-scoped API key acting for the user who made it. */
export type Principal =
  | { kind: "user"; userId: string; sessionId: string }
  | { kind: "api_key"; userId: string; keyId: string; orgId: string; role: Role };

export function requirePrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError("unauthenticated", "sign in or send an API key");
  return request.principal;
}

export function requireUserSession(request: FastifyRequest): Extract<Principal, { kind: "user" }> {
  const principal = requirePrincipal(request);
  if (principal.kind !== "user") throw new AppError("forbidden", "this action needs a signed-in user, not an API key");
  return principal;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}
