import { z } from "zod";
import { OrgParams, Uuid } from "../http/schemas.js";

/** A sandbox's name, as create and fork take it. */
export const SandboxName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "must be 1-63 letters, digits, dots, dashes or underscores");
export const SandboxParams = z.strictObject({ slug: OrgParams.shape.slug, id: Uuid });
