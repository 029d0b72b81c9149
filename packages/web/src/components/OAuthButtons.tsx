import { useEffect, useState } from "react";
import { api } from "../lib/api";

type Provider = "github" | "google";

const labels: Record<Provider, string> = { github: "Sign in with GitHub", google: "Sign in with Google" };

/**
 * A link per OAuth provider the server has configured, none otherwise. The links are plain
 * navigations: the server's start route sets the state cookie and redirects to the provider.
 */
export function OAuthButtons() {
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    let live = true;
    api
      .GET("/v1/auth/providers")
      .then(({ data }) => {
        if (live && data) setProviders(data.providers);
      })
      // Without the list the password form still works; no button is the safe answer.
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  if (providers.length === 0) return null;
  return (
    <nav aria-label="Other ways to sign in" className="actions">
      {providers.map((name) => (
        <a key={name} className="button" href={`/v1/auth/${name}`}>
          {labels[name]}
        </a>
      ))}
    </nav>
  );
}
