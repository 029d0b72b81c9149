import { Writable } from "node:stream";
import {
  createLogger,
  createSession,
  type Database,
  type HostDeadlines,
  newId,
  type RunningServer,
  type ServerConfig,
  startServer,
} from "@fluid/server/testing-api";
import type { LightMyRequestResponse } from "fastify";
import { testConfig } from "./config.js";
import { type DatabaseKind, openTestDatabase } from "./db.js";

export interface CallOptions {
  body?: unknown;
  /** Session cookie value, or an API key sent as Bearer. */
  as?: Caller;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

export type Caller = { cookie: string } | { key: string };

export interface Response<T = any> {
  status: number;
  body: T;
  headers: LightMyRequestResponse["headers"];
}

export interface TestServer {
  server: RunningServer;
  kind: DatabaseKind;
  grpcUrl: string;
  restUrl: string;
  logs: string[];
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<Response<T>>;
  /** Registers a user and returns their session. */
  user(email: string, displayName?: string): Promise<{ cookie: string; id: string; email: string }>;
  /**
   * A user with a live session written straight to the database, for tests about what users may
   * do: registering would spend an argon2 hash and the per-IP register budget on each one.
   */
  fastUser(name: string): Promise<{ cookie: string; id: string; email: string }>;
  /** Creates an org owned by `owner`. */
  org(owner: Caller, slug: string): Promise<{ id: string; slug: string }>;
  /** Invites `user` into `slug` (as `inviter`) and accepts as them; returns the membership. */
  member(
    inviter: Caller,
    slug: string,
    user: { cookie: string; email: string },
    role?: string,
  ): Promise<{ id: string }>;
  hostToken(caller: Caller, slug: string, name?: string): Promise<{ id: string; token: string }>;
  apiKey(caller: Caller, slug: string, role?: string): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

let userCounter = 0;

export function authHeaders(caller: Caller | undefined): Record<string, string> {
  if (!caller) return {};
  return "cookie" in caller ? { cookie: `fluid_session=${caller.cookie}` } : { authorization: `Bearer ${caller.key}` };
}

function sessionFrom(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === "fluid_session");
  if (!cookie) throw new Error(`no session cookie in response ${response.statusCode}: ${response.body}`);
  return cookie.value;
}

/**
 * A real control plane (REST + gRPC listening on loopback) on a fresh database of the given kind,
 * or on `shared` (another replica's database, which close() then leaves open).
 */
export async function startTestServer(
  kind: DatabaseKind,
  overrides: Partial<ServerConfig> & { deadlines?: Partial<HostDeadlines> } = {},
  shared?: Database,
): Promise<TestServer> {
  const database = shared ?? (await openTestDatabase(kind));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const { deadlines, ...configOverrides } = overrides;
  const config = testConfig({ log: { level: "debug" }, ...configOverrides });
  const server = await startServer(config, { log: createLogger(config.log, sink), database });
  if (deadlines) Object.assign(server.ctx.sandboxes.deadlines, deadlines);

  const call = async <T>(method: string, path: string, options: CallOptions = {}): Promise<Response<T>> => {
    const response = await server.app.inject({
      method: method as "GET",
      url: path,
      query: options.query,
      headers: { ...authHeaders(options.as), ...options.headers },
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
    const text = response.body;
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: response.statusCode, body: body as T, headers: response.headers };
  };

  return {
    server,
    kind,
    logs,
    grpcUrl: `http://127.0.0.1:${server.grpc.address.port}`,
    restUrl: `http://127.0.0.1:${server.restAddress.port}`,
    call,
    async user(email, displayName = "Test User") {
      const response = await server.app.inject({
        method: "POST",
        url: "/v1/auth/register",
        payload: { email, password: "correct horse battery", display_name: displayName },
      });
      if (response.statusCode !== 201) throw new Error(`register failed: ${response.statusCode} ${response.body}`);
      const user = JSON.parse(response.body).user;
      return { cookie: sessionFrom(response), id: user.id, email: user.email };
    },
    async fastUser(name) {
      const id = newId();
      const email = `${name}-${++userCounter}@example.com`;
      await server.ctx.db
        .insertInto("users")
        .values({ id, email, display_name: name, password_hash: null, avatar_url: null })
        .execute();
      const session = await createSession(server.ctx.db, id, { ip: "127.0.0.1", userAgent: undefined }, 3_600_000);
      return { cookie: session.token, id, email };
    },
    async org(owner, slug) {
      const response = await call<any>("POST", "/v1/orgs", { as: owner, body: { name: slug, slug } });
      if (response.status !== 201)
        throw new Error(`org create failed: ${response.status} ${JSON.stringify(response.body)}`);
      return { id: response.body.id, slug };
    },
    async member(inviter, slug, user, role = "member") {
      const invited = await call<any>("POST", `/v1/orgs/${slug}/invitations`, {
        as: inviter,
        body: { email: user.email, role },
      });
      if (invited.status !== 201) throw new Error(`invite failed: ${invited.status} ${JSON.stringify(invited.body)}`);
      const accepted = await call<any>("POST", "/v1/invitations/accept", {
        as: { cookie: user.cookie },
        body: { token: invited.body.token },
      });
      if (accepted.status !== 200)
        throw new Error(`accept failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
      return { id: accepted.body.membership.id };
    },
    async hostToken(caller, slug, name = "host") {
      const response = await call<any>("POST", `/v1/orgs/${slug}/hosts/tokens`, { as: caller, body: { name } });
      if (response.status !== 201)
        throw new Error(`token create failed: ${response.status} ${JSON.stringify(response.body)}`);
      return { id: response.body.id, token: response.body.token };
    },
    async apiKey(caller, slug, role = "member") {
      const response = await call<any>("POST", `/v1/orgs/${slug}/api-keys`, {
        as: caller,
        body: { name: `key-${role}`, role },
      });
      if (response.status !== 201)
        throw new Error(`key create failed: ${response.status} ${JSON.stringify(response.body)}`);
      return { id: response.body.id, key: response.body.key };
    },
    close: async () => {
      await server.close();
      if (!shared) await database.close();
    },
  };
}
