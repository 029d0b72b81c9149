import { useCallback, useState } from "react";
import { errorMessage } from "./api";

/** Runs a user action once at a time, keeping its failure message for the page to show. */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  run: <T>(action: () => Promise<T>) => Promise<T | undefined>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = useCallback(async <T>(action: () => Promise<T>) => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (err) {
      setError(errorMessage(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
