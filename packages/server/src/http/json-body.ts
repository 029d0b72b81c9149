import type { App } from "./types.js";

/**
 * Replaces Fastify's JSON parser with one that reads an empty body as no body: many clients send
 * `Content-Type: application/json` on every request, and a route that takes no body (DELETE, start,
 * stop) must not refuse them. Routes that need a body still fail validation, with a clear message.
 * Everything else (prototype-poisoning checks, malformed JSON) stays Fastify's own.
 */
export function registerJsonBodyParser(app: App): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body.toString();
    if (text === "") done(null, undefined);
    else parseJson(request, text, done);
  });
}
