import { type FormEvent, useState } from "react";
import { Link } from "../components/Link";
import { ErrorNotice } from "../components/Notice";
import { OAuthButtons } from "../components/OAuthButtons";
import { useAction } from "../lib/action";
import { api, unwrap } from "../lib/api";
import { navigate } from "../lib/router";
import { useSession } from "../lib/session";

/** Email + password sign-in; sign-up when `register` is set (same form plus a display name). */
export function SignIn({ register = false }: { register?: boolean }) {
  const session = useSession();
  const { busy, error, run } = useAction();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const done = await run(async () => {
      if (register)
        await unwrap(api.POST("/v1/auth/register", { body: { email, password, display_name: displayName } }));
      else await unwrap(api.POST("/v1/auth/login", { body: { email, password } }));
      return true;
    });
    if (!done) return;
    await session.reload();
    navigate("/", { replace: true });
  };

  return (
    <main className="auth">
      <h1>{register ? "Create your fluid account" : "Sign in to fluid"}</h1>
      <form onSubmit={submit} className="stack">
        {register && (
          <label>
            Display name
            <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} required maxLength={100} />
          </label>
        )}
        <label>
          Email
          <input
            type="email"
            autoComplete="username"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete={register ? "new-password" : "current-password"}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            minLength={register ? 8 : undefined}
            required
          />
        </label>
        <ErrorNotice error={error} />
        <button type="submit" disabled={busy}>
          {register ? "Sign up" : "Sign in"}
        </button>
      </form>
      {!register && <OAuthButtons />}
      <p>
        {register ? (
          <>
            Have an account? <Link href="/sign-in">Sign in</Link>
          </>
        ) : (
          <>
            New here? <Link href="/sign-up">Create an account</Link>
          </>
        )}
      </p>
    </main>
  );
}
