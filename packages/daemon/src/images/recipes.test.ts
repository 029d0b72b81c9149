import { cp, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRecipe, guestDir, type Recipe, recipeHash, recipes, withBootMode } from "./recipes.js";

describe("recipes", () => {
  let copy: string;

  beforeAll(async () => {
    copy = await mkdtemp(join(tmpdir(), "fluid-guest-"));
    await cp(guestDir, copy, { recursive: true });
  });

  afterAll(async () => {
    await rm(copy, { recursive: true, force: true });
  });

  it("every guest file a recipe installs exists, and scripts are executable", async () => {
    for (const recipe of Object.values(recipes)) {
      for (const file of [...recipe.initramfsFiles, ...recipe.rootfsFiles]) {
        const info = await stat(join(guestDir, file.source));
        expect(info.isFile()).toBe(true);
        if (file.mode & 0o111) expect(info.mode & 0o100).toBe(0o100);
      }
    }
  });

  it("recipeHash is stable: same content, same hash, whatever the key order", async () => {
    const tiny = getRecipe("tiny");
    const reordered = Object.fromEntries(Object.entries(tiny).reverse()) as unknown as Recipe;
    const hash = await recipeHash(tiny);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await recipeHash(tiny)).toBe(hash);
    expect(await recipeHash(reordered)).toBe(hash);
    expect(await recipeHash(tiny, copy)).toBe(hash);
    expect(await recipeHash(getRecipe("debian-12"))).not.toBe(hash);
  });

  it("recipeHash changes with the recipe definition and with the guest files", async () => {
    const tiny = getRecipe("tiny");
    const hash = await recipeHash(tiny, copy);
    expect(await recipeHash({ ...tiny, diskSize: "512M" }, copy)).not.toBe(hash);
    await writeFile(join(copy, "rootfs/fluid/boot"), "#!/fluid/busybox sh\n# changed\n");
    expect(await recipeHash(tiny, copy)).not.toBe(hash);
  });

  it("debian-12 boots with systemd and tiny fast; --boot fast is another image (hash), --boot systemd needs systemd", async () => {
    const debian = getRecipe("debian-12");
    expect(debian.boot).toBe("systemd");
    expect(getRecipe("tiny").boot).toBe("fast");
    const fast = withBootMode(debian, "fast");
    expect(fast.boot).toBe("fast");
    expect(await recipeHash(fast)).not.toBe(await recipeHash(debian));
    expect(withBootMode(debian, undefined)).toBe(debian);
    expect(() => withBootMode(getRecipe("tiny"), "systemd")).toThrow(/tiny recipe has no systemd/);
  });

  it("getRecipe rejects unknown names, including Object.prototype keys", () => {
    expect(() => getRecipe("alpine")).toThrow(/unknown recipe "alpine" \(known: tiny, debian-12\)/);
    expect(() => getRecipe("toString")).toThrow(/unknown recipe/);
  });
});
