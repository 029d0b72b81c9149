import { createClient, FluidError } from "@fluid/sdk";

/** The one API client of the dashboard: same origin, so the session cookie rides along and passes the CSRF check. */
export const api = createClient({ baseUrl: window.location.origin });

export { unwrap } from "@fluid/sdk";

/** What to show a person for a failed call: the server's message, never a stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof FluidError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True when a call failed because nobody is signed in. */
export function isUnauthenticated(err: unknown): boolean {
  return err instanceof FluidError && err.status === 401;
}
