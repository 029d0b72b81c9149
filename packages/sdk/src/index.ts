import createFetchClient, { type Client, type Middleware } from "openapi-fetch";
import { errorFromResponse } from "./errors.js";
import type { components, paths } from "./gen/api.js";

export * from "./errors.js";
export { type ExecEvent, type StreamExecRequest, streamExec } from "./exec-stream.js";
export { type FollowProcessLogRequest, followProcessLog, type ProcessLogEvent } from "./process-log.js";

export type { components, paths };

type Schemas = components["schemas"];
export type Sandbox = Schemas["Sandbox"];
export type Command = Schemas["Command"];
export type Process = Schemas["Process"];
export type Snapshot = Schemas["Snapshot"];
export type SandboxDiff = Schemas["SandboxDiff"];
export type SandboxChange = Schemas["SandboxChange"];
export type Host = Schemas["Host"];
export type HostToken = Schemas["HostToken"];
export type Organization = Schemas["Organization"];
export type Member = Schemas["Member"];
export type ApiKey = Schemas["ApiKey"];
export type SourceHost = Schemas["SourceHost"];
export type User = Schemas["User"];
export type AuditEvent = Schemas["AuditEvent"];
export type AuditVerification = Schemas["AuditVerification"];
export type ChangeRequest = Schemas["ChangeRequest"];
export type ChangeRequestSummary = Schemas["ChangeRequestSummary"];
export type ChangeRequestVerification = Schemas["ChangeRequestVerification"];
export type ChangeRequestMismatch = Schemas["ChangeRequestMismatch"];
export type ChangeRequestDecision = Schemas["ChangeRequestDecision"];
export type Quotas = Schemas["Quotas"];
export type Usage = Schemas["Usage"];

/** Responses are typed as their JSON body: the SDK parses JSON, never the other media an operation offers. */
export type FluidClient = Client<paths, "application/json">;

export interface ClientOptions {
  /** The server's base URL, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** An org-scoped API key (`fl_…`), sent as a bearer token. */
  apiKey?: string | undefined;
  /** Extra headers on every request (e.g. a session cookie for scripts that signed in). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/** A typed client for the fluid REST API: every path, parameter and body is checked at compile time. */
export function createClient(options: ClientOptions): FluidClient {
  const client = createFetchClient<paths, "application/json">({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  if (options.apiKey) {
    const auth: Middleware = {
      onRequest({ request }) {
        request.headers.set("authorization", `Bearer ${options.apiKey}`);
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}

/**
 * Returns the data of an openapi-fetch result or throws the FluidError subclass for the server's
 * `{"error":{"code","message"}}`, so callers handle one error family.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && data !== undefined) return data;
  throw errorFromResponse(response, error);
}
