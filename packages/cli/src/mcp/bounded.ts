/**
 * Bounds on what one result carries. An agent's context is small and shared with everything else it
 * does, so a megabyte of build log or a large file must not land in it whole; the markers say what
 * was cut and how to get at the rest.
 */
export const MAX_TEXT_BYTES = 64 * 1024;

export interface Bounded {
  text: string;
  /** True when anything was left out, here or by the host before us. */
  truncated: boolean;
}

/** Length of the longest prefix of at most `limit` bytes that does not split a UTF-8 character. */
function headLength(bytes: Uint8Array, limit: number): number {
  if (bytes.length <= limit) return bytes.length;
  let end = limit;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return end;
}

/** Start of the shortest suffix of at most `limit` bytes that does not split a UTF-8 character. */
function tailStart(bytes: Uint8Array, limit: number): number {
  let start = Math.max(0, bytes.length - limit);
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return start;
}

/**
 * Command output keeps its start and its end (errors and summaries are usually last) and cuts the
 * middle. `hostTruncated` is the host's own cap, which we can only report.
 */
export function boundOutput(text: string, stream: string, hostTruncated: boolean, limit = MAX_TEXT_BYTES): Bounded {
  const bytes = Buffer.from(text, "utf8");
  let shown = text;
  if (bytes.length > limit) {
    const head = bytes.subarray(0, headLength(bytes, Math.floor(limit / 2)));
    const tail = bytes.subarray(tailStart(bytes, Math.floor(limit / 2)));
    const cut = bytes.length - head.length - tail.length;
    shown =
      `${head.toString("utf8")}\n[… ${cut} bytes of ${stream} cut here: ${bytes.length} bytes in all, the first ` +
      `${head.length} and the last ${tail.length} are shown. Redirect the output to a file and read it in parts ` +
      `to see the rest …]\n${tail.toString("utf8")}`;
  }
  if (hostTruncated) {
    shown +=
      `\n[… the sandbox host stopped capturing ${stream} at its own limit; redirect the output to a file ` +
      "to keep all of it …]";
  }
  return { text: shown, truncated: shown !== text };
}

/** Text that is read from the top (a rendered document): keeps the start; `where` says where the whole is. */
export function boundHead(text: string, where: string, limit = MAX_TEXT_BYTES): Bounded {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= limit) return { text, truncated: false };
  const head = bytes.subarray(0, headLength(bytes, limit));
  return {
    text: `${head.toString("utf8")}\n[… only the first ${head.length} of ${bytes.length} bytes are shown; ${where} …]`,
    truncated: true,
  };
}

export interface BoundedFile extends Bounded {
  /** Not valid UTF-8 text (or contains NUL bytes): `text` then describes the file instead of holding it. */
  binary: boolean;
}

/** Files keep their start; the marker says how to read further with run_command. */
export function boundFile(
  content: Uint8Array,
  path: string,
  hostTruncated: boolean,
  limit = MAX_TEXT_BYTES,
): BoundedFile {
  const head = content.subarray(0, headLength(content, limit));
  const decoded = decodeText(head);
  if (decoded === undefined) {
    return {
      text: `[binary file, ${content.length}${hostTruncated ? "+" : ""} bytes; not shown. Inspect it with run_command, e.g. od -c or base64]`,
      truncated: true,
      binary: true,
    };
  }
  if (head.length === content.length && !hostTruncated) return { text: decoded, truncated: false, binary: false };
  const size = hostTruncated ? `more than ${content.length} bytes` : `${content.length} bytes`;
  const quoted = `'${path.replaceAll("'", "'\\''")}'`;
  return {
    text:
      `${decoded}\n[… only the first ${head.length} bytes of this file are shown (it has ${size}). Read further ` +
      `with run_command, e.g. tail -c +${head.length + 1} ${quoted} | head -c ${limit} …]`,
    truncated: true,
    binary: false,
  };
}

/** The text, or undefined when the bytes are not UTF-8 text. */
export function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
