import type { Organization, User } from "@fluid/sdk";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from "react";
import { api, isUnauthenticated, unwrap } from "./api";

export interface Session {
  /** undefined while loading, null when nobody is signed in. */
  user: User | null | undefined;
  orgs: Organization[];
  reload: () => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | undefined>(undefined);

/** Who is signed in and their orgs, loaded once and after sign-in, sign-out or org creation. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [orgs, setOrgs] = useState<Organization[]>([]);

  const reload = useCallback(async () => {
    try {
      const me = await unwrap(api.GET("/v1/auth/me"));
      const list = await unwrap(api.GET("/v1/orgs"));
      setOrgs(list.organizations);
      setUser(me.user);
    } catch (err) {
      if (!isUnauthenticated(err)) throw err;
      setOrgs([]);
      setUser(null);
    }
  }, []);

  const signOut = useCallback(async () => {
    await unwrap(api.POST("/v1/auth/logout"));
    setOrgs([]);
    setUser(null);
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  return <SessionContext.Provider value={{ user, orgs, reload, signOut }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}
