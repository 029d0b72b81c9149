import { z } from "zod";
import { invalid } from "../http/errors.js";
import { parse } from "./parse.js";

/** Bounds on a sandbox's E2B metadata and env vars: they live on its row and travel with every command. */
export const optionLimits = { maxEntries: 64, maxKeyLength: 128, maxValueLength: 1024 } as const;

const EnvName = /^[A-Za-z_][A-Za-z0-9_]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is refused.
const NoNul = /^[^\u0000]*$/;

function boundedRecord(what: string, key: z.ZodString) {
  return z
    .record(
      key.min(1).max(optionLimits.maxKeyLength).regex(NoNul, `${what} keys must not contain NUL`),
      z.string().max(optionLimits.maxValueLength).regex(NoNul, `${what} values must not contain NUL`),
    )
    .refine((record) => Object.keys(record).length <= optionLimits.maxEntries, {
      message: `at most ${optionLimits.maxEntries} ${what} entries`,
    });
}

/** E2B create's `metadata`: free-form string labels. */
export const Metadata = boundedRecord("metadata", z.string());

/** E2B create's `envVars`: set for every command in the sandbox (a command's own envs win). */
export const EnvVars = boundedRecord(
  "envVars",
  z.string().regex(EnvName, "environment variable names must match [A-Za-z_][A-Za-z0-9_]*"),
);

/**
 * The list filter `metadata` as the SDK sends it: a query string whose keys and values are each
 * URI-encoded once more (`user=abc&app=prod`). Answers the labels a sandbox must all carry.
 */
export function metadataFilter(query: string | undefined): Record<string, string> | undefined {
  if (query === undefined || query === "") return undefined;
  const filter: Record<string, string> = {};
  try {
    for (const [key, value] of new URLSearchParams(query)) filter[decodeURIComponent(key)] = decodeURIComponent(value);
  } catch {
    throw invalid("the metadata filter is not a valid URL-encoded query");
  }
  return parse(Metadata, filter, "metadata filter");
}
