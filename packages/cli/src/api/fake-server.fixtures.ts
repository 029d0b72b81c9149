import { createClient } from "@fluid/sdk";
import type { Connection } from "../connection.js";

/** One request the API layer sent, as the server would see it. */
export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export interface Reply {
  status?: number;
  body: unknown;
}

/**
 * A connection whose client is the real SDK client over a fetch that records each request and answers
 * with `reply` (JSON): the unit tests of cli/src/api check the wire request and the typed result.
 */
export function fakeServer(reply: (request: Recorded) => Reply = () => ({ body: {} })) {
  const calls: Recorded[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const text = await request.text();
    const recorded: Recorded = {
      method: request.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: text === "" ? undefined : JSON.parse(text),
    };
    calls.push(recorded);
    const answer = reply(recorded);
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { "content-type": "application/json" },
    });
  };
  const conn: Connection = {
    client: createClient({ baseUrl: "http://fluid.test", apiKey: "fl_test", fetch }),
    server: "http://fluid.test",
    org: "acme",
  };
  return { conn, calls };
}
