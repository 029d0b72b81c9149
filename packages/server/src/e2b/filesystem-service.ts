import { posix } from "node:path";
import { z } from "zod";
import { AppError } from "../http/errors.js";
import type { OrgScope } from "../orgs/access.js";
import type { SandboxService } from "../sandboxes/service.js";
import { notSupported } from "./errors.js";
import { type EntryInfo, entryType, GuestFiles, guestPath } from "./guest-fs.js";
import { parse } from "./parse.js";

const PathRequest = z.looseObject({ path: z.string() });
const MoveRequest = z.looseObject({ source: z.string(), destination: z.string() });
const ListDirRequest = z.looseObject({ path: z.string(), depth: z.number().int().min(0).optional() });

type Unary = (sandboxes: SandboxService, scope: OrgScope, id: string, body: unknown) => Promise<unknown>;

/** envd's `filesystem.Filesystem` unary methods fluid serves; watching is not among them. */
export const filesystemMethods: Readonly<Record<string, Unary>> = {
  Stat: async (sandboxes, scope, id, body) => {
    const path = guestPath(parse(PathRequest, body, "request").path);
    return { entry: await new GuestFiles(sandboxes, scope, id).stat(path) };
  },
  MakeDir: async (sandboxes, scope, id, body) => {
    const path = guestPath(parse(PathRequest, body, "request").path);
    const files = new GuestFiles(sandboxes, scope, id);
    if (!(await files.makeDir(path))) throw new AppError("conflict", `${path} already exists`);
    return { entry: await files.stat(path) };
  },
  Move: async (sandboxes, scope, id, body) => {
    const request = parse(MoveRequest, body, "request");
    const destination = guestPath(request.destination);
    const files = new GuestFiles(sandboxes, scope, id);
    await files.move(guestPath(request.source), destination);
    return { entry: await files.stat(destination) };
  },
  Remove: async (sandboxes, scope, id, body) => {
    const path = guestPath(parse(PathRequest, body, "request").path);
    await new GuestFiles(sandboxes, scope, id).remove(path);
    return {};
  },
  ListDir: async (sandboxes, scope, id, body) => {
    const request = parse(ListDirRequest, body, "request");
    if ((request.depth ?? 1) > 1) throw notSupported("listing deeper than one level (depth > 1)");
    const dir = guestPath(request.path);
    const entries = await sandboxes.listFiles(scope, id, dir);
    return {
      entries: entries.map(
        (entry): Partial<EntryInfo> => ({
          name: entry.name,
          type: entryType(entry.type),
          path: posix.join(dir, entry.name),
          size: entry.size.toString(),
          modifiedTime: new Date(Number(entry.modifiedUnix) * 1000).toISOString(),
        }),
      ),
    };
  },
};
