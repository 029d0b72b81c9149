import { connect } from "node:net";
import { startTestServer, type TestServer } from "@fluid/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface RawResponse {
  status: number;
  headers: string;
  body: unknown;
  elapsedMs: number;
}

/**
 * Sends bytes on a fresh TCP connection (no HTTP client to tidy them up) and reads until the server
 * closes it. A reset after the answer arrived still counts: only what the server sent matters.
 */
function rawRequest(port: number, data: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.write(data));
    const finish = () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      if (split === -1) return reject(new Error(`no HTTP response, got ${JSON.stringify(text.slice(0, 200))}`));
      const head = text.slice(0, split);
      const rawBody = text.slice(split + 4);
      let body: unknown = rawBody;
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
      resolve({ status: Number(head.split(" ")[1]), headers: head, body, elapsedMs: Date.now() - started });
    };
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("close", finish);
    socket.on("error", () => socket.destroy());
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

const REQUEST_TIMEOUT_MS = 600;

// Only the HTTP layer is under test here, so one database kind is enough.
describe("HTTP-layer refusals on a real listening server", () => {
  let t: TestServer;
  let port: number;

  beforeAll(async () => {
    t = await startTestServer("pglite", { headersTimeoutMs: 300, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    port = t.server.restAddress.port;
  });
  afterAll(() => t?.close());

  it("a stalled request body is answered 408 in the error envelope once the request timeout passes", async () => {
    const response = await rawRequest(
      port,
      "POST /v1/auth/login HTTP/1.1\r\nHost: fluid\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    );
    expect(response.status).toBe(408);
    expect(response.headers).toMatch(/content-type: application\/json/i);
    expect(response.body).toEqual({
      error: { code: "request_timeout", message: "the request was not received in time" },
    });
    expect(response.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(response.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 1_500);
  });

  it("stalled request headers are answered 408 in the error envelope", async () => {
    const response = await rawRequest(port, "GET /v1/health HTTP/1.1\r\nHost: fluid\r\n");
    expect(response.status).toBe(408);
    expect(response.body).toEqual({
      error: { code: "request_timeout", message: "the request was not received in time" },
    });
  });

  it("a 64 KB URL is answered 414 in the error envelope", async () => {
    const response = await rawRequest(port, `GET /v1/${"a".repeat(64 * 1024)} HTTP/1.1\r\nHost: fluid\r\n\r\n`);
    expect(response.status).toBe(414);
    expect(response.body).toEqual({ error: { code: "invalid_request", message: "request URL is too long" } });
  });

  it("a 100 KB header is answered 431 in the error envelope", async () => {
    const response = await rawRequest(
      port,
      `GET /v1/health HTTP/1.1\r\nHost: fluid\r\nX-Padding: ${"a".repeat(100 * 1024)}\r\n\r\n`,
    );
    expect(response.status).toBe(431);
    expect(response.body).toEqual({
      error: { code: "invalid_request", message: "request headers are too large" },
    });
  });

  it("a request that is not HTTP is answered 400 in the error envelope", async () => {
    const response = await rawRequest(port, "HELLO\r\n\r\n");
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: { code: "invalid_request", message: "malformed HTTP request" } });
  });
});
