import type { Logger } from "pino";
import type { EgressRule } from "./egress.js";
import { addResolved } from "./firewall.js";
import type { NetnsOption } from "./netns.js";
import { ResolvedAddresses } from "./resolved.js";
import { EgressResolver, type Endpoint } from "./resolver.js";

export interface EgressNamesOptions extends NetnsOption {
  resolver?: { upstream: Endpoint; port?: number };
  /** The sandbox attached at this address on the bridge. */
  sandboxAt(ip: string): { sandboxId: string; egress: EgressRule | undefined } | undefined;
  /** Runs a firewall change in the network manager's queue. */
  serial(task: () => Promise<void>): Promise<void>;
  log?: Pick<Logger, "warn">;
}

/**
 * DNS names in egress allowlists: the resolver sandboxes query, and the addresses its answers
 * opened, which every full firewall update carries over.
 */
export class EgressNames {
  private readonly resolved = new ResolvedAddresses();
  private resolver: EgressResolver | undefined;

  constructor(private readonly options: EgressNamesOptions) {}

  get running(): boolean {
    return this.resolver !== undefined;
  }

  /** Without the resolver, name entries open nothing; everything else keeps working. */
  async start(gateway: string): Promise<void> {
    const { resolver, sandboxAt, log } = this.options;
    if (!resolver || this.resolver) return;
    try {
      this.resolver = await EgressResolver.start({
        listen: { address: gateway, port: resolver.port ?? 53 },
        upstream: resolver.upstream,
        allowlistOf: (source) => sandboxAt(source)?.egress,
        onResolved: (source, entries, records) =>
          this.options.serial(async () => {
            const sandbox = sandboxAt(source);
            if (!sandbox) return;
            await addResolved(this.resolved.open(sandbox.sandboxId, source, entries, records), this.options);
          }),
        ...(log ? { log } : {}),
      });
    } catch (error) {
      log?.warn({ err: error }, "egress resolver could not start; DNS names in egress allowlists open nothing");
    }
  }

  async stop(): Promise<void> {
    await this.resolver?.close();
    this.resolver = undefined;
  }

  forget(sandboxId: string): void {
    this.resolved.forget(sandboxId);
  }

  /** Still-open addresses of the sandboxes at these addresses (keyed by sandbox id). */
  opened(sources: ReadonlyMap<string, string>) {
    return this.resolved.elements(sources);
  }
}
