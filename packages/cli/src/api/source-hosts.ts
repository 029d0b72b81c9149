import { type paths, unwrap } from "@fluid/sdk";
import type { Connection } from "../connection.js";
import { CliError } from "../output.js";
import type { BodyOf, QueryOf } from "./types.js";

export interface SourceHostRef {
  id: string;
  name: string;
}

/** The org's source hosts as the server lists them (none is no error here: listing them is how to find out). */
export function listSourceHosts(api: Connection) {
  return unwrap(api.client.GET("/v1/orgs/{slug}/source-hosts", { params: { path: { slug: api.org } } }));
}

export type AddSourceHost = BodyOf<"/v1/orgs/{slug}/source-hosts", "post">;

export function addSourceHost(api: Connection, body: AddSourceHost) {
  return unwrap(api.client.POST("/v1/orgs/{slug}/source-hosts", { params: { path: { slug: api.org } }, body }));
}

export function removeSourceHost(api: Connection, host: SourceHostRef) {
  return unwrap(
    api.client.DELETE("/v1/orgs/{slug}/source-hosts/{sourceHostId}", {
      params: { path: { slug: api.org, sourceHostId: host.id } },
    }),
  );
}

/** The org's source hosts; none is an error, since every source-VM operation needs one. */
export async function sourceHosts(api: Connection): Promise<SourceHostRef[]> {
  const hosts = await unwrap(api.client.GET("/v1/orgs/{slug}/source-hosts", { params: { path: { slug: api.org } } }));
  if (hosts.count === 0) throw new CliError("no source hosts configured for this org", { code: "not_found" });
  return hosts.source_hosts.map((h) => ({ id: h.id, name: h.name }));
}

export async function vmsOn(api: Connection, host: SourceHostRef) {
  const listed = await unwrap(
    api.client.GET("/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms", {
      params: { path: { slug: api.org, sourceHostId: host.id } },
    }),
  );
  return listed.vms;
}

/** A source host by name or id. */
export async function namedSourceHost(api: Connection, ref: string): Promise<SourceHostRef> {
  const hosts = await sourceHosts(api);
  const host = hosts.find((h) => h.id === ref || h.name === ref);
  if (!host) {
    throw new CliError(`no source host named ${ref} (source hosts: ${hosts.map((h) => h.name).join(", ")})`, {
      code: "not_found",
    });
  }
  return host;
}

/** The source host a VM lives on: the named one, the only one, or the one whose VM list has it. */
export async function sourceHostOf(api: Connection, vm: string, named: string | undefined): Promise<SourceHostRef> {
  if (named !== undefined) return namedSourceHost(api, named);
  const hosts = await sourceHosts(api);
  const [only] = hosts;
  if (only && hosts.length === 1) return only;
  const matches: SourceHostRef[] = [];
  for (const host of hosts) {
    // An unreachable host cannot be the one the caller means; the others still answer.
    const vms = await vmsOn(api, host).catch(() => []);
    if (vms.some((v) => v.name === vm)) matches.push(host);
  }
  const [match] = matches;
  if (!match) {
    throw new CliError(`no source host has a VM named ${vm}; list_vms (fluid source ls) shows what there is`, {
      code: "not_found",
    });
  }
  if (matches.length > 1) {
    throw new CliError(
      `several source hosts have a VM named ${vm} (${matches.map((h) => h.name).join(", ")}); pass source_host (--host)`,
    );
  }
  return match;
}

/** One of the server's typed inspections (POST …/vms/{vm}/inspect). */
export type SourceInspection =
  paths["/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/inspect"]["post"]["requestBody"]["content"]["application/json"];

/** Runs a typed inspection on a VM, on the named source host or the one that has the VM. */
export async function inspectSource(
  api: Connection,
  vm: string,
  host: string | undefined,
  inspection: SourceInspection,
) {
  const ref = await sourceHostOf(api, vm, host);
  return unwrap(
    api.client.POST("/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/inspect", {
      params: { path: { slug: api.org, sourceHostId: ref.id, vm } },
      body: inspection,
    }),
  );
}

function vmPath(api: Connection, host: SourceHostRef, vm: string) {
  return { path: { slug: api.org, sourceHostId: host.id, vm } };
}

export type PrepareVm = BodyOf<"/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/prepare", "post">;

/** Sets a VM up for read-only access (the restricted user, its key, the command policy). */
export function prepareVm(api: Connection, host: SourceHostRef, vm: string, body: PrepareVm) {
  return unwrap(
    api.client.POST("/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/prepare", {
      params: vmPath(api, host, vm),
      body,
    }),
  );
}

export type SourceCommand = BodyOf<"/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/run", "post">;

/** Runs a command the read-only policy allows on a source VM. */
export function runOnVm(api: Connection, host: SourceHostRef, vm: string, body: SourceCommand) {
  return unwrap(
    api.client.POST("/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/run", {
      params: vmPath(api, host, vm),
      body,
    }),
  );
}

export function readVmFile(api: Connection, host: SourceHostRef, vm: string, path: string) {
  return unwrap(
    api.client.GET("/v1/orgs/{slug}/source-hosts/{sourceHostId}/vms/{vm}/file", {
      params: { ...vmPath(api, host, vm), query: { path } },
    }),
  );
}

export type SourceCommandQuery = QueryOf<"/v1/orgs/{slug}/source-commands", "get">;

/** The audit trail of read-only access to source VMs, newest first. */
export function sourceCommandLog(api: Connection, query: SourceCommandQuery) {
  return unwrap(api.client.GET("/v1/orgs/{slug}/source-commands", { params: { path: { slug: api.org }, query } }));
}
