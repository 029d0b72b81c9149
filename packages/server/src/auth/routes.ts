import type { Kysely } from "kysely";
import { z } from "zod";
import type { ServerConfig } from "../config/config.js";
import type { DB } from "../db/schema.js";
import { AppError, conflict } from "../http/errors.js";
import { errorResponses, FreeText, Status, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { newId } from "../lib/ids.js";
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN, verifyPassword } from "./passwords.js";
import { requirePrincipal, requireUserSession } from "./principal.js";
import { forget, hit, peek, rateLimitByIp, rateLimited, rateRules } from "./rate-limit.js";
import { type CookiePolicy, clearSessionCookie, createSession, deleteSession, setSessionCookie } from "./sessions.js";
import { EmailInput, findUserByEmail, getUser, UserSchema, userView } from "./users.js";

const Password = FreeText.min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`).max(
  PASSWORD_MAX,
  `must be at most ${PASSWORD_MAX} characters`,
);

const RegisterBody = z.strictObject({
  email: EmailInput,
  password: Password,
  display_name: FreeText.trim().min(1).max(100),
});

const LoginBody = z.strictObject({
  email: EmailInput,
  password: z.string().min(1).max(PASSWORD_MAX),
});

const UserResponse = z.object({ user: UserSchema });

export function authRoutes(
  app: App,
  ctx: { db: Kysely<DB>; config: Pick<ServerConfig, "sessionTtlMs">; cookies: CookiePolicy },
): void {
  const { db } = ctx;

  app.post(
    "/v1/auth/register",
    {
      config: { public: true },
      preHandler: rateLimitByIp(db, rateRules.register),
      schema: {
        operationId: "register",
        tags: ["auth"],
        summary: "Create an account and sign in",
        body: RegisterBody,
        response: { 201: UserResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { email, password, display_name } = request.body;
      if (await findUserByEmail(db, email)) throw conflict("an account with this email already exists");
      const passwordHash = await hashPassword(password);
      const user = await db
        .insertInto("users")
        .values({ id: newId(), email, display_name, password_hash: passwordHash, avatar_url: null })
        .returningAll()
        .executeTakeFirstOrThrow()
        .catch((err: unknown) => {
          if ((err as { code?: string }).code === "23505") throw conflict("an account with this email already exists");
          throw err;
        });
      const session = await createSession(
        db,
        user.id,
        { ip: request.ip, userAgent: request.headers["user-agent"] },
        ctx.config.sessionTtlMs,
      );
      setSessionCookie(reply, session.token, ctx.cookies);
      return reply.code(201).send({ user: userView(user) });
    },
  );

  app.post(
    "/v1/auth/login",
    {
      config: { public: true },
      preHandler: rateLimitByIp(db, rateRules.login),
      schema: {
        operationId: "login",
        tags: ["auth"],
        summary: "Sign in with email and password",
        body: LoginBody,
        response: { 200: UserResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body;
      const failures = { rule: rateRules.loginFailures, subject: `${email} ${request.ip}` };
      const budget = await peek(db, failures.rule, failures.subject);
      if (!budget.allowed) throw rateLimited(budget.retryAfterS);
      const user = await findUserByEmail(db, email);
      const ok = await verifyPassword(user?.password_hash, password);
      if (!user || !ok) {
        const failed = await hit(db, failures.rule, failures.subject);
        if (failed.count === failures.rule.limit) {
          request.log.warn(
            {
              event: "login_lockout",
              email,
              ip: request.ip,
              failures: failed.count,
              window_s: failures.rule.windowMs / 1000,
            },
            "sign-in locked for this account from this address after repeated wrong passwords",
          );
        }
        throw new AppError("unauthenticated", "email or password is incorrect");
      }
      await forget(db, failures.rule, failures.subject);
      const session = await createSession(
        db,
        user.id,
        { ip: request.ip, userAgent: request.headers["user-agent"] },
        ctx.config.sessionTtlMs,
      );
      setSessionCookie(reply, session.token, ctx.cookies);
      return { user: userView(user) };
    },
  );

  app.post(
    "/v1/auth/logout",
    {
      schema: {
        operationId: "logout",
        tags: ["auth"],
        summary: "End the current browser session",
        security: [{ cookieAuth: [] }],
        response: { 200: Status, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = requireUserSession(request);
      await deleteSession(db, principal.sessionId);
      clearSessionCookie(reply, ctx.cookies);
      return { status: "logged out" };
    },
  );

  app.get(
    "/v1/auth/me",
    {
      schema: {
        operationId: "getCurrentUser",
        tags: ["auth"],
        summary: "The signed-in user (or the user an API key acts for)",
        security: securityAny,
        response: { 200: UserResponse, ...errorResponses },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request);
      const user = await getUser(db, principal.userId);
      if (!user) throw new AppError("unauthenticated", "account no longer exists");
      return { user: userView(user) };
    },
  );
}
