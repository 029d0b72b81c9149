import type { paths } from "@fluid/sdk";

type Method = "get" | "post" | "put" | "delete";

/** The JSON body an operation takes, as the server's OpenAPI document declares it. */
export type BodyOf<P extends keyof paths, M extends Method & keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

/** The query parameters an operation takes. */
export type QueryOf<P extends keyof paths, M extends Method & keyof paths[P]> = paths[P][M] extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;
