import { SandboxError } from "../../errors.js";
import { sandboxLimits } from "../../sandboxes/defaults.js";
import type { HandlerTable } from "./types.js";

const MAX_FILE_BYTES = sandboxLimits.maxFileBytes;

/** Files inside a running sandbox, each no larger than a stream message may carry. */
export const fileHandlers: HandlerTable = {
  readFile: async (c, { manager }) => {
    const file = await manager.readFile(
      c.sandboxId,
      c.path,
      Number(c.maxBytes) > 0 ? Number(c.maxBytes) : MAX_FILE_BYTES,
    );
    return {
      case: "fileContent",
      value: { sandboxId: c.sandboxId, path: c.path, content: file.data, truncated: file.truncated },
    };
  },
  writeFile: async (c, { manager }) => {
    if (c.content.length > MAX_FILE_BYTES)
      throw new SandboxError("invalid_request", `files are limited to ${MAX_FILE_BYTES} bytes`);
    await manager.writeFile(c.sandboxId, c.path, Buffer.from(c.content), c.mode || undefined);
    return { case: "fileWritten", value: { sandboxId: c.sandboxId, path: c.path, size: BigInt(c.content.length) } };
  },
  listFiles: async (c, { manager }) => {
    const entries = await manager.listFiles(c.sandboxId, c.path);
    return {
      case: "fileList",
      value: {
        sandboxId: c.sandboxId,
        path: c.path,
        entries: entries.map((e) => ({
          name: e.name,
          type: e.type,
          size: BigInt(e.size),
          modifiedUnix: BigInt(e.modifiedUnix),
        })),
      },
    };
  },
};
