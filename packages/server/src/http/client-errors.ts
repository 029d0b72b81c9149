import { maxHeaderSize, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionError, FastifyInstance } from "fastify";
import { type ErrorCode, errorBody } from "./errors.js";

interface Answer {
  status: number;
  code: ErrorCode;
  message: string;
}

const timedOut: Answer = { status: 408, code: "request_timeout", message: "the request was not received in time" };
const urlTooLong: Answer = { status: 414, code: "invalid_request", message: "request URL is too long" };
const headersTooLarge: Answer = { status: 431, code: "invalid_request", message: "request headers are too large" };
const malformed: Answer = { status: 400, code: "invalid_request", message: "malformed HTTP request" };

/**
 * Node counts the URL against the same header budget and reports one overflow for both. When the
 * packet that overflowed opens a request whose first line alone exceeds the budget, the URL was at
 * fault; a request split across packets is not told apart and gets 431, which still names the limit.
 */
function overflowAnswer(err: ConnectionError): Answer {
  // Fastify types the packet as a serialized Buffer; Node hands over the Buffer itself.
  const raw: unknown = err.rawPacket;
  const packet = Buffer.isBuffer(raw) ? raw.toString("latin1") : "";
  const lineEnd = packet.indexOf("\n");
  const firstLine = lineEnd === -1 ? packet : packet.slice(0, lineEnd);
  return /^[A-Z]+ /.test(packet) && firstLine.length > maxHeaderSize ? urlTooLong : headersTooLarge;
}

function answerFor(err: ConnectionError): Answer {
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return timedOut;
  if (err.code === "HPE_HEADER_OVERFLOW") return overflowAnswer(err);
  return malformed;
}

/** Node's own test for "no byte of a response went out yet"; past that, a written answer would corrupt it. */
function responseStarted(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
}

/**
 * Fastify's `clientErrorHandler`: requests refused before routing (too slow, too large, not HTTP)
 * get the API's `{"error":{"code","message"}}` envelope rather than Fastify's own JSON, and the
 * connection is closed, as Node does.
 */
export function answerClientError(this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const answer = answerFor(err);
  this.log.debug({ err: { code: err.code, message: err.message }, status: answer.status }, "client error");
  if (socket.writable && !responseStarted(socket)) {
    const body = JSON.stringify(errorBody(answer.code, answer.message));
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  }
  socket.destroy(err);
}
