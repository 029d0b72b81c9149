import { createClient, type FluidClient, unwrap } from "@fluid/sdk";
import { resolveConnection } from "./config/settings.js";
import { CliError } from "./output.js";

export interface Connection {
  client: FluidClient;
  server: string;
  /** The org every org-scoped call goes to. */
  org: string;
  /** The key the client sends (WebSocket endpoints such as terminals are opened with it too). */
  apiKey?: string;
}

/**
 * The typed SDK client for one server and key. A server that cannot be reached fails with a message
 * naming it, instead of fetch's bare "fetch failed".
 */
export function clientFor(server: string, apiKey: string): FluidClient {
  const reach: typeof fetch = async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      // Node's fetch gives up on a response after 5 minutes; the server may still finish the work.
      if (cause?.code === "UND_ERR_HEADERS_TIMEOUT" || cause?.code === "UND_ERR_BODY_TIMEOUT") {
        throw new CliError(`no answer from the fluid server at ${server} within 5 minutes; it may still finish`, {
          code: "timeout",
        });
      }
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(`cannot reach the fluid server at ${server} (${reason})`, {
        code: "unreachable",
      });
    }
  };
  return createClient({ baseUrl: server, apiKey, fetch: reach });
}

/**
 * A client for the configured server. An API key belongs to exactly one org, so when none is named
 * the org is the key's own (the only one `GET /v1/orgs` returns to it).
 */
export async function connect(flags: { server?: string; apiKey?: string; org?: string } = {}): Promise<Connection> {
  const { server, apiKey, org } = await resolveConnection(flags);
  const client = clientFor(server, apiKey);
  if (org) return { client, server, org, apiKey };
  const orgs = await unwrap(client.GET("/v1/orgs"));
  const [only, ...others] = orgs.organizations;
  if (!only) throw new CliError("these credentials belong to no organization", { code: "forbidden" });
  if (others.length > 0) throw new CliError("these credentials see several organizations; pass --org or set FLUID_ORG");
  return { client, server, org: only.slug, apiKey };
}
