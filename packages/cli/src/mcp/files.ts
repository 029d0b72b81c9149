import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { listSandboxFiles, readSandboxFile, writeSandboxFile } from "../api/sandbox-files.js";
import type { Connection } from "../connection.js";
import { boundFile, decodeText, MAX_TEXT_BYTES } from "./bounded.js";
import { SandboxId } from "./sandboxes.js";
import { defineTool, type ToolContext, ToolFailure } from "./tool.js";

const GuestPath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\/[^\0]*$/, "must be an absolute path inside the sandbox, e.g. /etc/nginx/nginx.conf");

/** Directories can be huge (/proc, node_modules); an agent needs the shape, not every entry. */
const MAX_LIST_ENTRIES = 1000;

function writeText(api: Connection, id: string, path: string, text: string, mode?: string) {
  return writeSandboxFile(api, id, { path, content: Buffer.from(text, "utf8"), mode });
}

export function registerFileTools(server: McpServer, ctx: ToolContext): void {
  defineTool(server, "read_file", {
    title: "Read a file in a sandbox",
    description:
      `Read a text file inside a RUNNING sandbox. At most ${MAX_TEXT_BYTES / 1024} KiB is returned; a marker ` +
      "says when more exists and how to read it. Binary files are reported as binary, not shown.",
    input: z.strictObject({ sandbox_id: SandboxId, path: GuestPath }),
    output: z.object({
      sandbox_id: z.string(),
      path: z.string(),
      content: z.string().describe("the text (with a truncation marker if cut), or a note for binary files"),
      size: z.number().int().describe("bytes read from the file"),
      binary: z.boolean(),
      truncated: z.boolean(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id, path }) {
      const api = await ctx.api();
      const file = await readSandboxFile(api, sandbox_id, path);
      const shown = boundFile(file.bytes, path, file.truncated);
      return {
        data: {
          sandbox_id,
          path,
          content: shown.text,
          size: file.bytes.length,
          binary: shown.binary,
          truncated: shown.truncated,
        },
        text: shown.text,
      };
    },
  });

  defineTool(server, "write_file", {
    title: "Write a file in a sandbox",
    description:
      "Create or replace a file inside a RUNNING sandbox with the given text. A new file gets mode 0644 " +
      "unless `mode` says otherwise; a replaced file keeps its mode.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      path: GuestPath,
      content: z.string().describe("the whole new content (UTF-8 text)"),
      mode: z
        .string()
        .regex(/^[0-7]{3,4}$/, "must be octal permission bits like 0644 or 755")
        .optional()
        .describe("permission bits, e.g. 0755 for a script"),
    }),
    output: z.object({ sandbox_id: z.string(), path: z.string(), size: z.number().int() }),
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id, path, content, mode }) {
      const api = await ctx.api();
      const written = await writeText(api, sandbox_id, path, content, mode);
      return {
        data: { sandbox_id, path: written.path, size: written.size },
        text: `wrote ${written.size} bytes to ${written.path}`,
      };
    },
  });

  defineTool(server, "edit_file", {
    title: "Edit a file in a sandbox",
    description:
      "Replace text in a file inside a RUNNING sandbox: the first occurrence of old_str (every occurrence " +
      "with replace_all) becomes new_str. If old_str does not occur, nothing changes and the call fails, so " +
      "copy old_str exactly from read_file (whitespace included). An empty old_str creates the file, or " +
      "overwrites it, with new_str.",
    input: z.strictObject({
      sandbox_id: SandboxId,
      path: GuestPath,
      new_str: z.string().describe("the replacement text (or the whole file when old_str is empty)"),
      old_str: z.string().default("").describe("the exact text to replace; empty: write new_str as the file"),
      replace_all: z.boolean().default(false).describe("replace every occurrence, not just the first"),
    }),
    output: z.object({
      sandbox_id: z.string(),
      path: z.string(),
      action: z.enum(["edited", "wrote_file"]),
      replacements: z.number().int().describe("occurrences replaced"),
      occurrences: z.number().int().describe("occurrences of old_str found before the edit"),
      size: z.number().int().describe("the file's size afterwards, in bytes"),
    }),
    hints: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async run({ sandbox_id, path, new_str, old_str, replace_all }) {
      const api = await ctx.api();
      if (old_str === "") {
        const written = await writeText(api, sandbox_id, path, new_str);
        return {
          data: {
            sandbox_id,
            path,
            action: "wrote_file" as const,
            replacements: 0,
            occurrences: 0,
            size: written.size,
          },
          text: `wrote ${written.size} bytes to ${path}`,
        };
      }
      const file = await readSandboxFile(api, sandbox_id, path);
      if (file.truncated) {
        throw new ToolFailure(`${path} is too large for edit_file; change it with run_command (e.g. sed -i)`);
      }
      const text = decodeText(file.bytes);
      if (text === undefined) {
        throw new ToolFailure(
          `${path} is not a text file (not UTF-8, or it contains NUL bytes); edit_file only edits text`,
        );
      }
      const occurrences = text.split(old_str).length - 1;
      if (occurrences === 0) {
        throw new ToolFailure(
          `old_str not found in ${path}; nothing was changed. Read the file with read_file and copy the exact ` +
            "text to replace, whitespace and line breaks included.",
        );
      }
      const at = text.indexOf(old_str);
      // Slicing, not String.replace: new_str may contain `$&`-style patterns that replace would expand.
      const updated = replace_all
        ? text.split(old_str).join(new_str)
        : text.slice(0, at) + new_str + text.slice(at + old_str.length);
      const written = await writeText(api, sandbox_id, path, updated);
      const replacements = replace_all ? occurrences : 1;
      return {
        data: { sandbox_id, path, action: "edited" as const, replacements, occurrences, size: written.size },
        text: `replaced ${replacements} of ${occurrences} occurrence${occurrences === 1 ? "" : "s"} in ${path}`,
      };
    },
  });

  defineTool(server, "list_files", {
    title: "List a directory in a sandbox",
    description: `List one directory inside a RUNNING sandbox (not recursive; at most ${MAX_LIST_ENTRIES} entries).`,
    input: z.strictObject({ sandbox_id: SandboxId, path: GuestPath }),
    output: z.object({
      sandbox_id: z.string(),
      path: z.string(),
      entries: z.array(
        z.object({
          name: z.string(),
          type: z.enum(["file", "directory", "symlink", "other"]),
          size: z.number().int(),
          modified_at: z.string(),
        }),
      ),
      count: z.number().int().describe("entries in the directory"),
      truncated: z.boolean(),
    }),
    hints: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async run({ sandbox_id, path }) {
      const api = await ctx.api();
      const listing = await listSandboxFiles(api, sandbox_id, path);
      const entries = listing.entries.slice(0, MAX_LIST_ENTRIES);
      const truncated = listing.entries.length > entries.length;
      const lines = entries.map(
        (e) => `${e.type.padEnd(9)} ${String(e.size).padStart(10)}  ${e.modified_at}  ${e.name}`,
      );
      if (truncated) {
        lines.push(
          `[… ${listing.entries.length - entries.length} more entries not shown; narrow down with run_command, e.g. ls | grep]`,
        );
      }
      return {
        data: { sandbox_id, path: listing.path, entries, count: listing.entries.length, truncated },
        text: lines.length > 0 ? lines.join("\n") : `${listing.path} is empty`,
      };
    },
  });
}
