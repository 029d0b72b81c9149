import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { isDatabaseUnavailable } from "../db/unavailable.js";
import { type ErrorCode, errorBody, isAppError } from "./errors.js";
import type { App } from "./types.js";

const fastifyCodes: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "request body is too large" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "content type must be application/json" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_request", message: "request body is not valid JSON" },
};

function describeValidation(err: FastifyError): string {
  const context = err.validationContext ?? "request";
  const issues = (err.validation ?? []).slice(0, 5).map((issue) => {
    const path = issue.instancePath ? issue.instancePath.replace(/^\//, "").replaceAll("/", ".") : "";
    return `${context}${path ? `.${path}` : ""}: ${issue.message ?? "is invalid"}`;
  });
  return issues.length > 0 ? issues.join("; ") : "request is invalid";
}

/**
 * One place turns every failure into `{"error":{"code","message"}}`; 5xx details only reach the log.
 * Also Fastify's `frameworkErrors` handler: router-level failures (a malformed percent-encoding, an
 * over-long path parameter) never reach the app's error handler and would otherwise get Fastify's own format.
 */
export function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (isAppError(err)) {
    if (err.status >= 500) request.log.error({ err, cause: err.cause }, "request failed");
    return reply.code(err.status).headers(err.headers).send(errorBody(err.code, err.message));
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    // The JSON parser reads an empty body as none, so this is also the answer to an empty JSON body.
    const missingBody = err.validationContext === "body" && request.body === undefined;
    const message = missingBody ? "a JSON request body is required" : describeValidation(err);
    return reply.code(400).send(errorBody("invalid_request", message));
  }
  if (isResponseSerializationError(err)) {
    request.log.error({ err, issues: err.cause.issues }, "response did not match its schema");
    return reply.code(500).send(errorBody("internal", "internal error"));
  }
  const known = err.code ? fastifyCodes[err.code] : undefined;
  if (known) return reply.code(err.statusCode ?? 400).send(errorBody(known.code, known.message));
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send(errorBody("invalid_request", err.message));
  }
  if (isDatabaseUnavailable(err)) {
    request.log.warn({ err: err.message }, "database unavailable");
    return reply
      .code(503)
      .header("retry-after", "2")
      .send(errorBody("service_unavailable", "the service cannot reach its database; retry shortly"));
  }
  request.log.error({ err }, "unhandled error");
  return reply.code(500).send(errorBody("internal", "internal error"));
}

export function registerErrorHandling(app: App): void {
  app.setErrorHandler(handleError);

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody("not_found", `no route for ${request.method} ${request.url.split("?")[0]}`));
  });
}
