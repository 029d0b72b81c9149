import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { imageManifest } from "../images/manifest.fixtures.js";
import { registerImageCommands } from "./images.js";

describe("image commands", () => {
  let dir: string;
  let out: string;
  let err: string;

  const cli = (...args: string[]) => {
    const program = new Command("fluid-daemon").exitOverride();
    registerImageCommands(program, {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
    });
    return program.parseAsync(args, { from: "user" });
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-cli-images-"));
    out = "";
    err = "";
    await mkdir(join(dir, "tiny"));
    await writeFile(
      join(dir, "tiny/manifest.json"),
      JSON.stringify(
        imageManifest("tiny", {
          recipeHash: "0".repeat(64),
          sizeBytes: 80_600_500,
          builtAt: "2026-11-28T13:40:53.789Z",
        }),
      ),
    );
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("ls prints a table, or JSON with --json", async () => {
    await cli("image", "ls", "--image-dir", dir);
    expect(out).toBe(
      "NAME  RECIPE  SIZE      BUILT                     KERNEL\n" +
        "tiny  tiny    76.9 MiB  2026-11-28T13:40:53.789Z  6.1.0-56-amd64\n",
    );
    out = "";
    await cli("image", "ls", "--json", "--image-dir", dir);
    expect(JSON.parse(out)).toEqual([
      {
        name: "tiny",
        recipe: "tiny",
        sizeBytes: 80_600_500,
        builtAt: "2026-11-28T13:40:53.789Z",
        kernelVersion: "6.1.0-56-amd64",
      },
    ]);
  });

  it("rm removes an image and rejects names that are not images", async () => {
    await expect(cli("image", "rm", "../tiny", "--image-dir", dir)).rejects.toThrow(/invalid image name/);
    await cli("image", "rm", "tiny", "--image-dir", dir);
    expect(err).toBe("removed image tiny\n");
    expect(await readdir(dir)).toEqual([]);
  });

  it("build names the known recipes when given an unknown one", async () => {
    await expect(cli("image", "build", "alpine", "--image-dir", dir)).rejects.toThrow(
      'unknown recipe "alpine" (known: tiny, debian-12)',
    );
  });
});
