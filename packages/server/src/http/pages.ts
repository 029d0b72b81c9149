import { z } from "zod";

/** The response of an offset-paged list: its rows under their own key, and where the next page starts. */
export function pageSchema<K extends string, T extends z.ZodType>(key: K, item: T) {
  const rows = { [key]: z.array(item) } as { [P in K]: z.ZodArray<T> };
  return z.object({
    ...rows,
    count: z.number().int(),
    has_more: z.boolean(),
    next_offset: z.number().int().nullable(),
  });
}

/**
 * One page of rows fetched with `limit + 1` (the extra row only tells whether more follow), shaped as
 * `pageSchema` describes it.
 */
export function pageReply<K extends string, R, V>(
  key: K,
  rows: R[],
  at: { limit: number; offset: number },
  view: (row: R) => V,
): { [P in K]: V[] } & { count: number; has_more: boolean; next_offset: number | null } {
  const hasMore = rows.length > at.limit;
  const items = (hasMore ? rows.slice(0, at.limit) : rows).map(view);
  const shaped = { [key]: items } as { [P in K]: V[] };
  return { ...shaped, count: items.length, has_more: hasMore, next_offset: hasMore ? at.offset + at.limit : null };
}
