import type { Command } from "commander";
import { defaultImageDir } from "../config.js";
import { buildImage } from "../images/build.js";
import { recipes } from "../images/recipes.js";
import { type ImageInfo, ImageStore } from "../images/store.js";
import { BOOT_MODES, type BootMode, parseBootMode } from "../vm/boot-mode.js";

export interface CliOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function table(images: ImageInfo[]): string {
  const rows = [
    ["NAME", "RECIPE", "SIZE", "BUILT", "KERNEL"],
    ...images.map((image) => [image.name, image.recipe, mib(image.sizeBytes), image.builtAt, image.kernelVersion]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

/** `image build|ls|rm` (docs/guest-images.md). Build progress goes to stderr, one line per step. */
export function registerImageCommands(program: Command, output: CliOutput = process): void {
  const image = program.command("image").description("build, list and remove guest images");
  const imageDirHelp = `image directory (default ${defaultImageDir()})`;

  image
    .command("build")
    .description("build an image from a recipe; a no-op when it is up to date")
    .argument("<recipe>", `one of: ${Object.keys(recipes).join(", ")}`)
    .option("--image-dir <dir>", imageDirHelp)
    .option("--force", "rebuild even if the image is up to date")
    .option(
      "--boot <mode>",
      `how its sandboxes boot: ${BOOT_MODES.join(" or ")} (default: the recipe's)`,
      parseBootMode,
    )
    .action(async (recipe: string, options: { imageDir?: string; force?: boolean; boot?: BootMode }) => {
      const started = Date.now();
      const result = await buildImage({
        recipe,
        imageDir: options.imageDir ?? defaultImageDir(),
        force: options.force ?? false,
        boot: options.boot,
        onProgress: ({ step, done, total }) => output.stderr.write(`[${done + 1}/${total}] ${step}\n`),
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      output.stderr.write(
        result.built
          ? `built ${result.manifest.name} (kernel ${result.manifest.kernelVersion}, ${mib(result.manifest.sizeBytes)}) in ${seconds} s: ${result.dir}\n`
          : `${result.manifest.name} is up to date in ${result.dir} (--force rebuilds it)\n`,
      );
    });

  image
    .command("ls")
    .description("list the images")
    .option("--image-dir <dir>", imageDirHelp)
    .option("--json", "print JSON")
    .action(async (options: { imageDir?: string; json?: boolean }) => {
      const images = await new ImageStore(options.imageDir ?? defaultImageDir()).list();
      output.stdout.write(options.json ? `${JSON.stringify(images, null, 2)}\n` : table(images));
    });

  image
    .command("rm")
    .description("remove an image (running sandboxes keep the files they have open)")
    .argument("<name>", "image name")
    .option("--image-dir <dir>", imageDirHelp)
    .action(async (name: string, options: { imageDir?: string }) => {
      await new ImageStore(options.imageDir ?? defaultImageDir()).remove(name);
      output.stderr.write(`removed image ${name}\n`);
    });
}
