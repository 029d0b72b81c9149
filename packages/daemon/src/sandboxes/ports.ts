/** What the sandbox manager needs from the network manager (kept narrow so tests can stand in). */
/** A sandbox's network attachment, as the network manager hands it out. */
export interface NetAttachment {
  mode: "bridge" | "user";
  /** Bridge mode: the bridge its TAP is a port of (absent in attachments recorded before it was kept). */
  bridge?: string | undefined;
  ip?: string | undefined;
  gateway?: string | undefined;
  prefix?: number | undefined;
  mac: string;
  tap?: string | undefined;
  peerGroup?: string | undefined;
  qemuArgs: string[];
}

export interface SandboxNetwork {
  /** egress as in setEgress. */
  attach(
    sandboxId: string,
    options: { egress: boolean | readonly string[]; peerGroup?: string | undefined },
  ): Promise<NetAttachment>;
  detach(sandboxId: string): Promise<void>;
  /** true: anywhere; false: nowhere; a list: only its entries (network/egress.ts). */
  setEgress(sandboxId: string, egress: boolean | readonly string[]): Promise<void>;
  /** Moves a running sandbox's attachment (address, MAC, TAP) to a new sandbox id, with the given egress. */
  rekey(from: string, to: string, options: { egress: boolean | readonly string[] }): Promise<NetAttachment>;
  cleanupOrphans(liveSandboxIds: Iterable<string>): Promise<void>;
}
