import { z } from "zod";
import type { OAuthProviderConfig } from "../config/config.js";
import { AppError } from "../http/errors.js";

export type ProviderName = "github" | "google";

/** What a sign-in provider vouches for: a stable account id and a verified email. */
export interface ProviderIdentity {
  providerUserId: string;
  email: string;
  displayName: string;
  avatarUrl: string | null;
}

const UPSTREAM_TIMEOUT_MS = 10_000;

async function fetchJson(url: string, init: RequestInit, what: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) });
  } catch (err) {
    throw new AppError("host_error", `could not reach the sign-in provider (${what})`, { cause: err });
  }
  if (!response.ok) {
    throw new AppError("host_error", `the sign-in provider refused ${what} (HTTP ${response.status})`);
  }
  try {
    return await response.json();
  } catch (err) {
    throw new AppError("host_error", `the sign-in provider sent an unreadable ${what}`, { cause: err });
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new AppError("host_error", `the sign-in provider sent an unexpected ${what}`);
  return result.data;
}

const TokenResponse = z.object({ access_token: z.string().min(1) });

async function exchangeCode(config: OAuthProviderConfig, code: string, redirectUri: string): Promise<string> {
  const body = new URLSearchParams({
    client_id: config.clientId,
    client_secret: config.clientSecret,
    code,
    redirect_uri: redirectUri,
    grant_type: "authorization_code",
  });
  const json = await fetchJson(
    config.tokenUrl,
    {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
      body,
    },
    "token exchange",
  );
  return parse(TokenResponse, json, "token response").access_token;
}

const GithubUser = z.object({
  id: z.number(),
  login: z.string(),
  name: z.string().nullable().optional(),
  avatar_url: z.string().nullable().optional(),
});
const GithubEmails = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));

const GoogleUser = z.object({
  sub: z.string().min(1),
  email: z.string(),
  email_verified: z.boolean(),
  name: z.string().optional(),
  picture: z.string().optional(),
});

export interface OAuthProvider {
  authorizeUrl(state: string, redirectUri: string): string;
  identify(code: string, redirectUri: string): Promise<ProviderIdentity>;
}

/** The provider's consent page for this app, with the provider's own parameters after the client id. */
function authorizeUrl(config: OAuthProviderConfig, params: Record<string, string>): string {
  const url = new URL(config.authorizeUrl);
  url.search = new URLSearchParams({ client_id: config.clientId, ...params }).toString();
  return url.toString();
}

export function githubProvider(config: OAuthProviderConfig): OAuthProvider {
  return {
    authorizeUrl(state, redirectUri) {
      return authorizeUrl(config, { redirect_uri: redirectUri, scope: "read:user user:email", state });
    },
    async identify(code, redirectUri) {
      const token = await exchangeCode(config, code, redirectUri);
      const headers = {
        authorization: `Bearer ${token}`,
        accept: "application/vnd.github+json",
        "user-agent": "fluid",
      };
      const user = parse(
        GithubUser,
        await fetchJson(`${config.apiBaseUrl}/user`, { headers }, "user profile"),
        "user profile",
      );
      const emails = parse(
        GithubEmails,
        await fetchJson(`${config.apiBaseUrl}/user/emails`, { headers }, "email list"),
        "email list",
      );
      // Only a verified address may identify (or link to) an account; an unverified one could be anyone's.
      const chosen = emails.find((e) => e.primary && e.verified) ?? emails.find((e) => e.verified);
      if (!chosen) throw new AppError("invalid_request", "your GitHub account has no verified email address");
      return {
        providerUserId: String(user.id),
        email: chosen.email,
        displayName: user.name || user.login,
        avatarUrl: user.avatar_url ?? null,
      };
    },
  };
}

export function googleProvider(config: OAuthProviderConfig): OAuthProvider {
  return {
    authorizeUrl(state, redirectUri) {
      return authorizeUrl(config, {
        redirect_uri: redirectUri,
        response_type: "code",
        scope: "openid email profile",
        state,
      });
    },
    async identify(code, redirectUri) {
      const token = await exchangeCode(config, code, redirectUri);
      const json = await fetchJson(
        `${config.apiBaseUrl}/v1/userinfo`,
        { headers: { authorization: `Bearer ${token}` } },
        "user profile",
      );
      const user = parse(GoogleUser, json, "user profile");
      if (!user.email_verified)
        throw new AppError("invalid_request", "your Google account's email address is not verified");
      return {
        providerUserId: user.sub,
        email: user.email,
        displayName: user.name || user.email,
        avatarUrl: user.picture ?? null,
      };
    },
  };
}
