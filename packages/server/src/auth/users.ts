import type { Kysely } from "kysely";
import { z } from "zod";
import type { DB, User } from "../db/schema.js";
import { iso, Timestamp } from "../http/schemas.js";

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    display_name: z.string(),
    avatar_url: z.string().nullable(),
    email_verified: z.boolean(),
    created_at: Timestamp,
  })
  .meta({ id: "User" });

export function userView(user: User): z.infer<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    display_name: user.display_name,
    avatar_url: user.avatar_url,
    email_verified: user.email_verified,
    created_at: iso(user.created_at),
  };
}

/** Emails compare case-insensitively everywhere: they are stored lowercased and trimmed. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const EmailInput = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: "must be a valid email address" }))
  .transform(normalizeEmail);

export async function findUserByEmail(db: Kysely<DB>, email: string): Promise<User | undefined> {
  return db
    .selectFrom("users")
    .selectAll()
    .where("email", "=", normalizeEmail(email))
    .where("deleted_at", "is", null)
    .executeTakeFirst();
}

export async function getUser(db: Kysely<DB>, id: string): Promise<User | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).where("deleted_at", "is", null).executeTakeFirst();
}
