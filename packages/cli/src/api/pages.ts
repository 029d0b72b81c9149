/** Fetches every page of an offset-paginated list (the server caps a page at 200). */
export async function allPages<T>(
  page: (offset: number) => Promise<{ items: T[]; next_offset: number | null }>,
): Promise<T[]> {
  const items: T[] = [];
  let offset: number | null = 0;
  while (offset !== null) {
    const result = await page(offset);
    items.push(...result.items);
    offset = result.next_offset;
  }
  return items;
}

export const PAGE_SIZE = 200;
