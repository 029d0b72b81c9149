import type { FastifySchema } from "fastify";
import { z } from "zod";

/**
 * @fastify/swagger marks every declared request body required. Routes whose body schema accepts no
 * body at all (the JSON parser reads an empty body as none) carry this extension on their operation
 * until the finished document turns it into `requestBody.required: false`.
 */
const OPTIONAL_BODY = "x-fluid-optional-body";

/** Route-level step: flags routes whose zod body schema accepts an absent body. */
export function flagOptionalBody(schema: FastifySchema): FastifySchema {
  const body = schema.body;
  if (!(body instanceof z.ZodType) || !body.safeParse(undefined).success) return schema;
  const flagged: FastifySchema & { [OPTIONAL_BODY]?: boolean } = { ...schema, [OPTIONAL_BODY]: true };
  return flagged;
}

type Operation = { [OPTIONAL_BODY]?: boolean; requestBody?: { required?: boolean } };

/** Document-level step: flagged operations get an optional request body, and lose the flag. */
export function markOptionalBodies<T extends { paths?: object }>(document: T): T {
  for (const operations of Object.values(document.paths ?? {}) as Record<string, Operation>[]) {
    for (const operation of Object.values(operations)) {
      if (!operation[OPTIONAL_BODY]) continue;
      delete operation[OPTIONAL_BODY];
      if (operation.requestBody) operation.requestBody.required = false;
    }
  }
  return document;
}
