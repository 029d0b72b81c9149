/** Reading the server's newline-delimited JSON replies (streamed exec, followed process logs). */

/** Splits a byte stream into its lines, however the chunks fall. */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim()) yield line;
        newline = pending.indexOf("\n");
      }
      if (done) break;
    }
    if (pending.trim()) yield pending;
  } finally {
    // A consumer that stops early closes the connection rather than leaving it half read.
    await reader.cancel().catch(() => undefined);
  }
}

export function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
