import { defaultHandlers } from "@fluid/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McpFixture, startMcp, textOf } from "../../test/mcp-fixture.js";

describe("file tools against a real control plane and a protocol-level host", () => {
  let f: McpFixture;
  let id: string;
  /** The guest's files, as the host would keep them. */
  const files = new Map<string, Uint8Array>();
  const modes = new Map<string, number>();

  beforeAll(async () => {
    f = await startMcp();
    id = await f.sandbox();
  });
  afterAll(() => f.close());
  beforeEach(() => {
    files.clear();
    modes.clear();
    f.daemon.handlers = {
      ...defaultHandlers,
      readFile: (m) => {
        const cmd = m.payload.case === "readFile" ? m.payload.value : undefined;
        const content = files.get(cmd?.path ?? "");
        if (!content) return { error: `${cmd?.path}: no such file`, code: "not_found" };
        const max = Number(cmd?.maxBytes ?? 0n);
        return {
          case: "fileContent",
          value: { path: cmd?.path, content: content.subarray(0, max), truncated: content.length > max },
        };
      },
      writeFile: (m) => {
        const cmd = m.payload.case === "writeFile" ? m.payload.value : undefined;
        files.set(cmd?.path ?? "", cmd?.content ?? new Uint8Array());
        if (cmd?.mode) modes.set(cmd.path, cmd.mode);
        return { case: "fileWritten", value: { path: cmd?.path, size: BigInt(cmd?.content.length ?? 0) } };
      },
    };
  });

  const text = (path: string) => Buffer.from(files.get(path) ?? []).toString("utf8");
  const writes = () => f.daemon.commands("writeFile").length;

  describe("read_file", () => {
    it("returns the decoded text", async () => {
      files.set("/etc/motd", Buffer.from("héllo\n"));
      const result = await f.call("read_file", { sandbox_id: id, path: "/etc/motd" });
      expect(result.structuredContent).toEqual({
        sandbox_id: id,
        path: "/etc/motd",
        content: "héllo\n",
        size: 7,
        binary: false,
        truncated: false,
      });
      expect(textOf(result)).toBe("héllo\n");
    });

    it("says a binary file is binary instead of returning it", async () => {
      files.set("/bin/tool", new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1]));
      const result = await f.call("read_file", { sandbox_id: id, path: "/bin/tool" });
      expect(result.structuredContent).toMatchObject({ binary: true, size: 6 });
      expect(textOf(result)).toMatch(/^\[binary file, 6 bytes; not shown/);
    });

    it("bounds a large file and says how to read the rest", async () => {
      files.set("/var/log/big.log", Buffer.from("y".repeat(100_000)));
      const result = await f.call("read_file", { sandbox_id: id, path: "/var/log/big.log" });
      expect(result.structuredContent).toMatchObject({ size: 100_000, truncated: true, binary: false });
      expect(result.structuredContent.content).toMatch(
        /^y{65536}\n\[… only the first 65536 bytes of this file are shown \(it has 100000 bytes\)\. Read further with run_command, e\.g\. tail -c \+65537 '\/var\/log\/big\.log' \| head -c 65536 …\]$/,
      );
    });

    it("reports a missing file with the server's code", async () => {
      const result = await f.call("read_file", { sandbox_id: id, path: "/nope" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /^fluid API error not_found \(HTTP 404\): read file failed on the host: \/nope: no such file/,
      );
    });

    it("rejects a relative path", async () => {
      const result = await f.call("read_file", { sandbox_id: id, path: "etc/motd" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/must be an absolute path/);
    });
  });

  describe("write_file", () => {
    it("writes text with an optional mode", async () => {
      const result = await f.call("write_file", {
        sandbox_id: id,
        path: "/root/run.sh",
        content: "#!/bin/sh\necho ok\n",
        mode: "0755",
      });
      expect(result.structuredContent).toEqual({ sandbox_id: id, path: "/root/run.sh", size: 18 });
      expect(textOf(result)).toBe("wrote 18 bytes to /root/run.sh");
      expect(text("/root/run.sh")).toBe("#!/bin/sh\necho ok\n");
      expect(modes.get("/root/run.sh")).toBe(0o755);
    });

    it("rejects a mode that is not octal", async () => {
      const result = await f.call("write_file", { sandbox_id: id, path: "/a", content: "", mode: "rwx" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/octal permission bits/);
    });
  });

  describe("edit_file", () => {
    it("replaces the first occurrence, leaving the others", async () => {
      files.set("/etc/app.conf", Buffer.from("port=80\nport=80\n"));
      const result = await f.call("edit_file", {
        sandbox_id: id,
        path: "/etc/app.conf",
        old_str: "port=80",
        new_str: "port=8080",
      });
      expect(result.structuredContent).toEqual({
        sandbox_id: id,
        path: "/etc/app.conf",
        action: "edited",
        replacements: 1,
        occurrences: 2,
        size: 18,
      });
      expect(textOf(result)).toBe("replaced 1 of 2 occurrences in /etc/app.conf");
      expect(text("/etc/app.conf")).toBe("port=8080\nport=80\n");
    });

    it("replaces every occurrence with replace_all, taking new_str literally", async () => {
      files.set("/etc/app.conf", Buffer.from("a b a"));
      const result = await f.call("edit_file", {
        sandbox_id: id,
        path: "/etc/app.conf",
        old_str: "a",
        new_str: "$&$1",
        replace_all: true,
      });
      expect(result.structuredContent).toMatchObject({ action: "edited", replacements: 2, occurrences: 2 });
      expect(text("/etc/app.conf")).toBe("$&$1 b $&$1");
    });

    it("fails without writing when old_str is not in the file", async () => {
      files.set("/etc/app.conf", Buffer.from("port=80\n"));
      const before = writes();
      const result = await f.call("edit_file", {
        sandbox_id: id,
        path: "/etc/app.conf",
        old_str: "port = 80",
        new_str: "port=8080",
      });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^old_str not found in \/etc\/app\.conf; nothing was changed/);
      expect(writes()).toBe(before);
      expect(text("/etc/app.conf")).toBe("port=80\n");
    });

    it("writes the whole file when old_str is empty", async () => {
      const result = await f.call("edit_file", { sandbox_id: id, path: "/etc/new.conf", new_str: "fresh\n" });
      expect(result.structuredContent).toMatchObject({ action: "wrote_file", replacements: 0, size: 6 });
      expect(text("/etc/new.conf")).toBe("fresh\n");
    });

    it("refuses binary files and files too large to edit whole", async () => {
      files.set("/bin/tool", new Uint8Array([0x61, 0, 0x62]));
      const binary = await f.call("edit_file", { sandbox_id: id, path: "/bin/tool", old_str: "a", new_str: "b" });
      expect(binary.isError).toBe(true);
      expect(textOf(binary)).toMatch(/is not a text file/);

      files.set("/var/huge", Buffer.alloc(8 * 1024 * 1024 + 1, 0x61));
      const huge = await f.call("edit_file", { sandbox_id: id, path: "/var/huge", old_str: "a", new_str: "b" });
      expect(huge.isError).toBe(true);
      expect(textOf(huge)).toBe("/var/huge is too large for edit_file; change it with run_command (e.g. sed -i)");
    });

    it("reports a missing file with the server's code", async () => {
      const result = await f.call("edit_file", { sandbox_id: id, path: "/missing", old_str: "a", new_str: "b" });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^fluid API error not_found/);
    });
  });

  describe("list_files", () => {
    it("lists a directory", async () => {
      const result = await f.call("list_files", { sandbox_id: id, path: "/etc" });
      expect(result.structuredContent).toEqual({
        sandbox_id: id,
        path: "/etc",
        entries: [{ name: "hosts", type: "file", size: 42, modified_at: "2023-11-14T22:13:20.000Z" }],
        count: 1,
        truncated: false,
      });
      expect(textOf(result)).toBe("file              42  2023-11-14T22:13:20.000Z  hosts");
    });

    it("bounds a huge directory", async () => {
      f.daemon.handlers.listFiles = () => ({
        case: "fileList",
        value: {
          path: "/proc",
          entries: Array.from({ length: 1500 }, (_, i) => ({
            name: `e${i}`,
            type: "file",
            size: 0n,
            modifiedUnix: 0n,
          })),
        },
      });
      const result = await f.call("list_files", { sandbox_id: id, path: "/proc" });
      expect(result.structuredContent).toMatchObject({ count: 1500, truncated: true });
      expect(result.structuredContent.entries).toHaveLength(1000);
      expect(textOf(result)).toMatch(/\n\[… 500 more entries not shown; narrow down with run_command/);
    });
  });
});
