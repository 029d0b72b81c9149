import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ControlMessage, HostMessageSchema, SourceHostConnection } from "@fluid/proto";
import type { ApplyAccess } from "../apply/access.js";
import { SandboxError } from "../errors.js";
import { SourceError } from "../remote/source-error.js";
import { parseHostKeys } from "../remote/ssh-config.js";
import { SshError } from "../remote/ssh-error.js";
import type { SourceHost, SourceHosts } from "../sources/source-host.js";
import { PolicyRefusal, type VmAccess } from "../sources/vm-access.js";

type Reply = MessageInitShape<typeof HostMessageSchema>["payload"];

/** What the daemon needs to answer source-VM commands; absent, they answer "host_unavailable". */
export interface SourceServices {
  hosts: SourceHosts;
  access: VmAccess;
  apply: ApplyAccess;
}

/** A source host for one command, from the credentials the command carries (never kept). */
export function sourceHostFor(sources: SourceServices, c: SourceHostConnection | undefined): SourceHost {
  if (!c?.sshHost) throw new SandboxError("invalid_request", "the command names no source host");
  if (c.type && c.type !== "libvirt") {
    throw new SandboxError("invalid_request", `${c.type} source hosts are not supported yet`);
  }
  if (!c.sshPrivateKey) {
    throw new SandboxError("invalid_request", "the source host has no SSH key; register it with one");
  }
  return sources.hosts.connect({
    id: c.sourceHostId || c.sshHost,
    ssh: {
      host: c.sshHost,
      port: c.sshPort || 22,
      user: c.sshUser || "root",
      privateKey: c.sshPrivateKey,
      // Keys the control plane was given for the host replace trust on first use.
      hostKeys: c.sshHostKey ? parseHostKeys(c.sshHostKey) : undefined,
    },
  });
}

/** Source-side failures in the codes the control plane maps to REST errors. */
export function asSandboxError(err: unknown): unknown {
  if (err instanceof PolicyRefusal) return new SandboxError("command_refused", err.message);
  if (err instanceof SourceError || err instanceof SshError) {
    return new SandboxError(err.code, err.message, { cause: err });
  }
  return err;
}

/**
 * Answers the source-VM commands: discovery, validation, preparation, read-only commands and files,
 * and applying a playbook (only where the source host's owner enabled it).
 */
export async function handleSourceCommand(sources: SourceServices, message: ControlMessage): Promise<Reply> {
  const payload = message.payload;
  try {
    switch (payload.case) {
      case "listSourceVms": {
        const c = payload.value.sourceHostConnection;
        const host = sourceHostFor(sources, c);
        const { vms } = await host.listVMs();
        return {
          case: "sourceVmsList",
          value: {
            vms: await Promise.all(
              vms.map(async (vm) => ({
                name: vm.name,
                state: vm.state,
                ipAddress: vm.ipAddresses[0] ?? "",
                prepared: false,
                host: c?.sourceHostId ?? "",
                cachedCapturedAt: (await host.cached(vm.name))?.capturedAt ?? "",
              })),
            ),
          },
        };
      }
      case "validateSourceVm": {
        const c = payload.value;
        const result = await sourceHostFor(sources, c.sourceHostConnection).validate(c.sourceVm);
        return {
          case: "sourceVmValidation",
          value: {
            sourceVm: c.sourceVm,
            valid: result.valid,
            state: result.state,
            macAddress: result.macs[0] ?? "",
            ipAddress: result.ipAddresses[0] ?? "",
            hasNetwork: result.macs.length > 0,
            warnings: result.warnings,
            errors: result.errors,
          },
        };
      }
      case "prepareSourceVm": {
        const c = payload.value;
        const host = sourceHostFor(sources, c.sourceHostConnection);
        const steps = await sources.access.prepare(
          host,
          c.sourceVm,
          { user: c.sshUser || "root", privateKey: c.sshPrivateKey || host.config.ssh.privateKey },
          c.enableApply,
        );
        return { case: "sourceVmPrepared", value: { sourceVm: c.sourceVm, prepared: true, ...steps } };
      }
      case "runSourceCommand": {
        const c = payload.value;
        const host = sourceHostFor(sources, c.sourceHostConnection);
        const result = await sources.access.run(
          host,
          c.sourceVm,
          c.command,
          c.timeoutSeconds > 0 ? c.timeoutSeconds : 30,
          c.actor || undefined,
        );
        return { case: "sourceCommandResult", value: { sourceVm: c.sourceVm, ...result } };
      }
      case "readSourceFile": {
        const c = payload.value;
        const host = sourceHostFor(sources, c.sourceHostConnection);
        const content = await sources.access.readFile(host, c.sourceVm, c.path, c.actor || undefined);
        return { case: "sourceFileResult", value: { sourceVm: c.sourceVm, path: c.path, content } };
      }
      case "applyPlaybook": {
        const c = payload.value;
        const host = sourceHostFor(sources, c.sourceHostConnection);
        const outcome = await sources.apply.apply(host, c.sourceVm, {
          playbookYaml: c.playbookYaml,
          check: c.check,
          timeoutSeconds: c.timeoutSeconds,
          actor: c.actor || undefined,
          applyEnabled: c.sourceHostConnection?.applyEnabled === true,
        });
        return {
          case: "playbookRun",
          value: { ...outcome, durationMs: BigInt(outcome.durationMs) },
        };
      }
      default:
        throw new SandboxError("invalid_request", `not a source command: ${payload.case ?? "(empty)"}`);
    }
  } catch (err) {
    throw asSandboxError(err);
  }
}
