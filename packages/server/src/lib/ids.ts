import { v7 } from "uuid";

/** Time-ordered UUIDs (v7): 74 random bits plus a millisecond timestamp, B-tree friendly. */
export function newId(): string {
  return v7();
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
