/**
 * Secrets in what source VMs print or hold, replaced before the output leaves the sandbox host
 * (SPEC §5: outputs are redacted by default). Conservative patterns: a false positive hides a value
 * an operator can still read on the VM; a miss would put a production secret into an agent's context.
 */
const RULES: Array<[RegExp, string | ((...groups: string[]) => string)]> = [
  [/-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g, "[REDACTED PRIVATE KEY]"],
  // key = value, key: value, key="value" for names that say they hold a secret.
  [
    /\b([A-Za-z0-9_.-]*(?:passw(?:or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]*)(\s*[:=]\s*)(["']?)([^\s"'#;,]+)\3/gi,
    (_m, name: string, sep: string, quote: string) => `${name}${sep}${quote}[REDACTED]${quote}`,
  ],
  [/\b(Authorization:\s*(?:Bearer|Basic|Token)\s+)\S+/gi, "$1[REDACTED]"],
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, "$1[REDACTED]@"],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, "[REDACTED AWS KEY ID]"],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b/g, "[REDACTED GITHUB TOKEN]"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}\b/g, "[REDACTED SLACK TOKEN]"],
];

/** `text` with secrets replaced. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) {
    out = out.replace(pattern, replacement as (substring: string, ...args: string[]) => string);
  }
  return out;
}

/** A file's bytes, base64-encoded, with secrets redacted if it is text; binary content is left alone. */
export function redactBase64(content: string): string {
  const bytes = Buffer.from(content, "base64");
  const text = bytes.toString("utf8");
  if (text.includes("\0") || !Buffer.from(text, "utf8").equals(bytes)) return content;
  const redacted = redactSecrets(text);
  return redacted === text ? content : Buffer.from(redacted, "utf8").toString("base64");
}
