import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { imageManifest as manifest } from "./manifest.fixtures.js";
import { ImageStore, parseManifest, validateImageName } from "./store.js";

describe("image names", () => {
  it("accepts recipe-style names", () => {
    for (const name of ["tiny", "debian-12", "a", "web_1.2", "X".repeat(128)])
      expect(validateImageName(name)).toBe(name);
  });

  it("rejects anything that is not one plain path component", () => {
    for (const name of ["", ".", "..", "../etc", "a/b", ".build-tiny", "-x", "a b", "a\nb", "X".repeat(129), "é"]) {
      expect(() => validateImageName(name), name).toThrow(/invalid image name/);
    }
  });
});

describe("parseManifest", () => {
  it("parses a valid manifest", () => {
    expect(parseManifest(JSON.stringify(manifest("tiny", { boot: "fast" })))).toEqual(
      manifest("tiny", { boot: "fast" }),
    );
    expect(parseManifest(JSON.stringify(manifest("debian-12", { boot: "systemd" }))).boot).toBe("systemd");
  });

  it("reads a manifest from before boot modes as a fast-booting image, and refuses unknown modes", () => {
    expect(parseManifest(JSON.stringify(manifest("tiny"))).boot).toBe("fast");
    expect(() => parseManifest(JSON.stringify(manifest("tiny", { boot: "upstart" })))).toThrow(/boot/);
  });

  it("names every problem", () => {
    const text = JSON.stringify(manifest("tiny", { sshd: "yes", recipeHash: "x", agent: "ssh" }));
    expect(() => parseManifest(text)).toThrow(/recipeHash.*sshd.*agent|recipeHash/);
    expect(() => parseManifest("{")).toThrow(/manifest is not JSON/);
    expect(() => parseManifest(JSON.stringify({ name: "tiny" }))).toThrow(/invalid manifest: recipe/);
  });

  it("refuses file names that leave the image directory", () => {
    for (const kernel of ["../../etc/shadow", "/etc/shadow", "sub/vmlinux", ".."]) {
      expect(() => parseManifest(JSON.stringify(manifest("tiny", { kernel })))).toThrow(
        /kernel: must be a plain file name/,
      );
    }
  });
});

describe("ImageStore", () => {
  let dir: string;
  let store: ImageStore;

  async function addImage(name: string, extra: Record<string, unknown> = {}, files = true) {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, "manifest.json"), JSON.stringify(manifest(name, extra)));
    if (files)
      for (const file of ["vmlinux", "initramfs.cpio", "rootfs.qcow2"]) await writeFile(join(dir, name, file), "");
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fluid-images-"));
    store = new ImageStore(dir);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists images and skips what is not one", async () => {
    await addImage("tiny");
    await addImage("debian-12", { recipe: "debian-12", sshd: true });
    await addImage("broken", { kernel: "../x" });
    await mkdir(join(dir, ".cache/debs"), { recursive: true });
    await mkdir(join(dir, "no-manifest"));
    expect(await store.list()).toEqual([
      {
        name: "debian-12",
        recipe: "debian-12",
        sizeBytes: 1234,
        builtAt: "2026-11-28T12:00:00.000Z",
        kernelVersion: "6.1.0-56-amd64",
      },
      {
        name: "tiny",
        recipe: "tiny",
        sizeBytes: 1234,
        builtAt: "2026-11-28T12:00:00.000Z",
        kernelVersion: "6.1.0-56-amd64",
      },
    ]);
    expect(await store.names()).toEqual(["debian-12", "tiny"]);
    expect(await new ImageStore(join(dir, "missing")).list()).toEqual([]);
  });

  it("get returns absolute paths from the manifest and checks them", async () => {
    await addImage("tiny");
    const image = await store.get("tiny");
    expect(image).toMatchObject({
      name: "tiny",
      dir: join(dir, "tiny"),
      kernel: join(dir, "tiny/vmlinux"),
      initrd: join(dir, "tiny/initramfs.cpio"),
      disk: join(dir, "tiny/rootfs.qcow2"),
      sshd: false,
    });
    await addImage("partial", {}, false);
    await expect(store.get("partial")).rejects.toThrow(/image partial is incomplete: .*vmlinux is missing/);
    await expect(store.get("nope")).rejects.toThrow(/no image "nope"/);
    await expect(store.get("../tiny")).rejects.toThrow(/invalid image name/);
    await addImage("renamed");
    await writeFile(join(dir, "renamed/manifest.json"), JSON.stringify(manifest("other")));
    await expect(store.get("renamed")).rejects.toThrow(/image renamed: it names the image "other"/);
  });

  it("remove deletes the image and validates the name", async () => {
    await addImage("tiny");
    await store.remove("tiny");
    expect(await readdir(dir)).toEqual([]);
    await expect(store.remove("tiny")).rejects.toThrow(/no image "tiny"/);
    await expect(store.remove("..")).rejects.toThrow(/invalid image name/);
  });

  it("a build becomes visible only when committed, replacing the previous image", async () => {
    await addImage("tiny", { sizeBytes: 1 });
    const build = await store.beginBuild("tiny");
    expect(build).toMatch(new RegExp(`^${dir}/\\.build-tiny-\\w{6}$`));
    await writeFile(join(build, "manifest.json"), JSON.stringify(manifest("tiny", { sizeBytes: 2 })));
    expect((await store.manifest("tiny"))?.sizeBytes).toBe(1);
    await store.commitBuild("tiny", build);
    expect((await store.manifest("tiny"))?.sizeBytes).toBe(2);
    expect(await readdir(dir)).toEqual(["tiny"]);
    expect(await readdir(join(dir, "tiny"))).toEqual(["manifest.json"]);
    expect((await stat(join(dir, "tiny"))).mode & 0o777).toBe(0o755);
  });

  it("cleans up builds whose builder died and refuses to race a live one", async () => {
    const dead = join(dir, ".build-tiny-dead01");
    await mkdir(dead, { recursive: true });
    await writeFile(join(dead, "builder.pid"), "999999999\n");
    const live = await store.beginBuild("tiny");
    expect(await readdir(dir)).toEqual([live.slice(dir.length + 1)]);
    await expect(store.beginBuild("tiny")).rejects.toThrow(`already being built by pid ${process.pid}`);
    expect((await store.beginBuild("debian-12")).startsWith(join(dir, ".build-debian-12-"))).toBe(true);
  });
});
