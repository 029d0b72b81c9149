import { openTerminal, type Terminal } from "@fluid/sdk/terminal";
import type { Connection } from "../connection.js";

/** Opens a login shell's terminal in a sandbox, as the connection's caller, at the given size. */
export function openSandboxTerminal(
  conn: Connection,
  sandbox: string,
  size: { cols: number; rows: number },
): Promise<Terminal> {
  return openTerminal({
    baseUrl: conn.server,
    ...(conn.apiKey ? { apiKey: conn.apiKey } : {}),
    org: conn.org,
    sandbox,
    ...size,
  });
}
