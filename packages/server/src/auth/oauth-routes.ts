import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { ServerConfig } from "../config/config.js";
import type { DB, User } from "../db/schema.js";
import { AppError } from "../http/errors.js";
import { errorResponses, FreeText } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import { constantTimeEqual } from "../lib/secrets.js";
import {
  githubProvider,
  googleProvider,
  type OAuthProvider,
  type ProviderIdentity,
  type ProviderName,
} from "./oauth.js";
import { rateLimitByIp, rateRules } from "./rate-limit.js";
import { type CookiePolicy, createSession, setSessionCookie } from "./sessions.js";
import { findUserByEmail, normalizeEmail } from "./users.js";

export const STATE_COOKIE = "fluid_oauth_state";
const STATE_TTL_S = 600;

/** The account a provider identity signs in to: its linked user, else the user with that (verified) email, else a new one. */
async function findOrCreateUser(db: Kysely<DB>, provider: ProviderName, identity: ProviderIdentity): Promise<User> {
  return db.transaction().execute(async (tx) => {
    const linked = await tx
      .selectFrom("oauth_accounts as a")
      .innerJoin("users as u", "u.id", "a.user_id")
      .selectAll("u")
      .where("a.provider", "=", provider)
      .where("a.provider_user_id", "=", identity.providerUserId)
      .where("u.deleted_at", "is", null)
      .executeTakeFirst();
    if (linked) return linked;
    const email = normalizeEmail(identity.email);
    const user =
      (await findUserByEmail(tx, email)) ??
      (await tx
        .insertInto("users")
        .values({
          id: newId(),
          email,
          display_name: identity.displayName.slice(0, 100),
          avatar_url: identity.avatarUrl,
          password_hash: null,
          email_verified: true,
        })
        .returningAll()
        .executeTakeFirstOrThrow());
    await tx
      .insertInto("oauth_accounts")
      .values({ id: newId(), user_id: user.id, provider, provider_user_id: identity.providerUserId, email })
      .execute();
    return user;
  });
}

/**
 * Optional GitHub/Google sign-in. Each start sets a fresh random state in a short-lived HttpOnly
 * cookie; the callback accepts only the matching state (constant-time), so a forged callback
 * cannot sign a victim in to an attacker's account. Provider tokens are used once and not stored.
 */
export function oauthRoutes(
  app: App,
  ctx: { db: Kysely<DB>; config: Pick<ServerConfig, "oauth" | "publicUrl" | "sessionTtlMs">; cookies: CookiePolicy },
): void {
  const providers: Partial<Record<ProviderName, OAuthProvider>> = {};
  if (ctx.config.oauth.github) providers.github = githubProvider(ctx.config.oauth.github);
  if (ctx.config.oauth.google) providers.google = googleProvider(ctx.config.oauth.google);
  const redirectUri = (name: ProviderName) => `${ctx.config.publicUrl}/v1/auth/${name}/callback`;
  const statePolicy = { path: "/v1/auth", httpOnly: true, sameSite: "lax" as const, secure: ctx.cookies.secure };

  const provider = (name: ProviderName) => {
    const found = providers[name];
    if (!found) throw new AppError("not_implemented", `${name} sign-in is not configured on this server`);
    return found;
  };

  app.get(
    "/v1/auth/providers",
    {
      config: { public: true },
      schema: {
        operationId: "listSignInProviders",
        tags: ["auth"],
        summary: "The OAuth providers this server offers for sign-in (the dashboard shows a button for each)",
        response: {
          200: z.object({ providers: z.array(z.enum(["github", "google"])) }),
          ...errorResponses,
        },
      },
    },
    async () => ({ providers: (["github", "google"] as const).filter((name) => providers[name]) }),
  );

  for (const name of ["github", "google"] as const) {
    const titled = `${name[0]?.toUpperCase()}${name.slice(1)}`;
    app.get(
      `/v1/auth/${name}`,
      {
        config: { public: true },
        preHandler: rateLimitByIp(ctx.db, rateRules.oauth),
        schema: {
          operationId: `start${titled}SignIn`,
          tags: ["auth"],
          summary: `Start ${name} sign-in (redirects to the provider)`,
          response: { 302: z.null().describe("redirect to the provider"), ...errorResponses, 501: errorResponses[500] },
        },
      },
      async (_request, reply) => {
        const selected = provider(name);
        const state = randomBytes(32).toString("base64url");
        reply.setCookie(STATE_COOKIE, state, { ...statePolicy, maxAge: STATE_TTL_S });
        return reply.redirect(selected.authorizeUrl(state, redirectUri(name)), 302);
      },
    );

    app.get(
      `/v1/auth/${name}/callback`,
      {
        config: { public: true },
        preHandler: rateLimitByIp(ctx.db, rateRules.oauth),
        schema: {
          operationId: `finish${titled}SignIn`,
          tags: ["auth"],
          summary: `Finish ${name} sign-in (the provider redirects here)`,
          querystring: z.object({
            code: FreeText.max(2048).optional(),
            state: FreeText.max(512).optional(),
            error: FreeText.max(256).optional(),
          }),
          response: {
            302: z.null().describe("signed in; redirect to the dashboard"),
            ...errorResponses,
            501: errorResponses[500],
          },
        },
      },
      async (request, reply) => {
        const selected = provider(name);
        const expected = request.cookies[STATE_COOKIE];
        reply.clearCookie(STATE_COOKIE, statePolicy);
        const { code, state, error } = request.query;
        if (!expected || !state || !constantTimeEqual(expected, state)) {
          throw new AppError("invalid_request", "sign-in state is missing or does not match; start again");
        }
        if (error || !code)
          throw new AppError("invalid_request", `sign-in was not completed${error ? `: ${error}` : ""}`);
        const identity = await selected.identify(code, redirectUri(name));
        const user = await findOrCreateUser(ctx.db, name, identity);
        const session = await createSession(
          ctx.db,
          user.id,
          { ip: request.ip, userAgent: request.headers["user-agent"] },
          ctx.config.sessionTtlMs,
        );
        setSessionCookie(reply, session.token, ctx.cookies);
        return reply.redirect(`${ctx.config.publicUrl}/`, 302);
      },
    );
  }
}
