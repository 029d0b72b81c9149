import { AppError } from "../http/errors.js";

/** E2B template ids fluid answers to, and the fluid image each boots. */
export const templateImages: Readonly<Record<string, string>> = {
  tiny: "tiny",
  "debian-12": "debian-12",
};

export function imageForTemplate(templateId: string): string {
  const image = Object.hasOwn(templateImages, templateId) ? templateImages[templateId] : undefined;
  if (image === undefined) {
    const known = Object.keys(templateImages).join(", ");
    throw new AppError("not_found", `template '${templateId}' not found; fluid serves the templates ${known}`);
  }
  return image;
}

/** The template a sandbox was created from; a sandbox made outside the E2B API shows its image name. */
export function templateForImage(image: string): string {
  return Object.entries(templateImages).find(([, name]) => name === image)?.[0] ?? image;
}
