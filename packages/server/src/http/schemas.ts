import { errorCodes } from "@fluid/proto";
import { z } from "zod";

export const ErrorResponse = z
  .object({ error: z.object({ code: z.enum(errorCodes), message: z.string() }) })
  .meta({ id: "Error" });

/** Standard error responses for routes; each route adds its own success schema. */
export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  413: ErrorResponse,
  415: ErrorResponse,
  429: ErrorResponse,
  500: ErrorResponse,
  502: ErrorResponse,
  503: ErrorResponse,
  504: ErrorResponse,
} as const;

/**
 * Whether PostgreSQL stores a string exactly: text and jsonb refuse NUL (the insert fails), and a
 * lone surrogate (half a UTF-16 pair, e.g. JSON "\ud800") would silently become U+FFFD.
 */
export function isStorableText(value: string): boolean {
  return !value.includes("\0") && !/\p{Cs}/u.test(value);
}

/** Every free-text input field builds on this, so bad text is a 400 at validation rather than a 500. */
export const FreeText = z
  .string()
  .refine(isStorableText, { message: "contains characters that cannot be stored (NUL or a lone surrogate)" });

export const Uuid = z.uuid({ message: "must be a UUID" });

export const Slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$/, "must be 3-50 lowercase letters, digits or dashes");

export const OrgParams = z.strictObject({ slug: Slug });

export const Timestamp = z.iso.datetime({ offset: true });

export const Pagination = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export const Status = z.object({ status: z.string() });

/** Both ways a request can authenticate; routes list the ones they accept. */
export const securityAny: { [scheme: string]: string[] }[] = [{ cookieAuth: [] }, { bearerAuth: [] }];
/** Routes only a signed-in person may call (API keys act within one org and cannot, e.g., create orgs). */
export const securityCookie: { [scheme: string]: string[] }[] = [{ cookieAuth: [] }];

export function iso(date: Date | string): string;
export function iso(date: Date | string | null): string | null;
export function iso(date: Date | string | null): string | null {
  if (date === null) return null;
  return (date instanceof Date ? date : new Date(date)).toISOString();
}
