import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage } from "./api";

/** How often lists refresh: the API has no ETags or event stream yet (see docs/architecture.md). */
export const POLL_MS = 5_000;

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => Promise<void>;
}

/**
 * Loads now, then again every `intervalMs` while the tab is visible (never when it is null), and on
 * demand via reload(). A new `key` starts over (another org or sandbox); answers for an old key are dropped.
 */
export function usePoll<T>(key: string, load: () => Promise<T>, intervalMs: number | null = POLL_MS): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: string }>({ key });
  const loadRef = useRef(load);
  loadRef.current = load;
  const keyRef = useRef(key);
  keyRef.current = key;

  const reload = useCallback(async () => {
    const forKey = keyRef.current;
    try {
      const data = await loadRef.current();
      if (keyRef.current === forKey) setState({ key: forKey, data });
    } catch (err) {
      if (keyRef.current === forKey) setState((prev) => ({ ...prev, key: forKey, error: errorMessage(err) }));
    }
  }, []);

  useEffect(() => {
    void key;
    void reload();
    if (intervalMs === null) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, intervalMs);
    return () => window.clearInterval(timer);
  }, [key, intervalMs, reload]);

  const current = state.key === key;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, reload };
}
