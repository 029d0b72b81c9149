import { createClient } from "./index.js";

/**
 * A client whose server answers with these body chunks (each sent as a separate network read);
 * `onRequest` sees the URL asked for.
 */
export function clientAnswering(
  status: number,
  chunks: string[],
  contentType = "application/x-ndjson",
  onRequest: (url: string) => void = () => undefined,
) {
  const fetch = async (input: Request | URL | string) => {
    onRequest(input instanceof Request ? input.url : String(input));
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    });
    return new Response(body, { status, headers: { "content-type": contentType } });
  };
  return createClient({ baseUrl: "http://fluid.test", apiKey: "fl_test", fetch });
}

export async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const event of events) all.push(event);
  return all;
}
