import { useSyncExternalStore } from "react";

export type Route =
  | { page: "sign-in" }
  | { page: "sign-up" }
  | { page: "home" }
  | { page: "new-org" }
  | { page: "sandboxes"; org: string }
  | { page: "sandbox"; org: string; id: string }
  | { page: "hosts"; org: string }
  | { page: "admin"; org: string }
  | { page: "change-requests"; org: string }
  | { page: "change-request"; org: string; id: string }
  | { page: "audit"; org: string }
  | { page: "sources"; org: string }
  | { page: "not-found" };

const orgPages = new Set(["sandboxes", "hosts", "sources", "admin", "change-requests", "audit"]);

/** Maps a URL path to the page it shows; unknown paths are "not-found", never an exception. */
export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  if (parts.length === 1 && parts[0] === "sign-in") return { page: "sign-in" };
  if (parts.length === 1 && parts[0] === "sign-up") return { page: "sign-up" };
  if (parts.length === 2 && parts[0] === "orgs" && parts[1] === "new") return { page: "new-org" };
  if (parts[0] !== "o" || parts.length < 3) return { page: "not-found" };
  const [, org, page, id] = parts as [string, string, string, string | undefined];
  if (page === "sandboxes" && id !== undefined && parts.length === 4) return { page: "sandbox", org, id };
  if (page === "change-requests" && id !== undefined && parts.length === 4) {
    return { page: "change-request", org, id };
  }
  if (parts.length === 3 && orgPages.has(page)) return { page, org } as Route;
  return { page: "not-found" };
}

/** The path of an org's page, the inverse of parseRoute for links. */
export function orgPath(org: string, page: string, id?: string): string {
  return `/o/${encodeURIComponent(org)}/${page}${id ? `/${encodeURIComponent(id)}` : ""}`;
}

const NAVIGATED = "fluid:navigate";

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  window.dispatchEvent(new Event(NAVIGATED));
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(NAVIGATED, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(NAVIGATED, onChange);
  };
}

/** The current route, re-rendering on back/forward and on navigate(). */
export function useRoute(): Route {
  const pathname = useSyncExternalStore(subscribe, () => window.location.pathname);
  return parseRoute(pathname);
}
