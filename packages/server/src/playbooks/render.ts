import { Document, isPair, isScalar, Scalar, visit } from "yaml";
import type { ChangedWhen } from "../db/schema.js";

export interface RenderablePlaybook {
  name: string;
  hosts: string;
  become: boolean;
}

export interface RenderableTask {
  name: string;
  module: string;
  params: Record<string, unknown>;
  changed_when: ChangedWhen | null;
}

type Data = null | boolean | number | string | Data[] | { [key: string]: Data };

/**
 * The playbook as Ansible will read it: one play, keys in a fixed order (play: name, hosts, become
 * when true, tasks; task: name, module, changed_when when set), module arguments sorted at every
 * level so the same playbook always renders the same bytes whatever order the database returns.
 */
export function playbookData(playbook: RenderablePlaybook, tasks: readonly RenderableTask[]): Data {
  const play: Record<string, Data> = { name: playbook.name, hosts: playbook.hosts };
  if (playbook.become) play.become = true;
  play.tasks = tasks.map((task) => {
    const entry: Record<string, Data> = { name: task.name };
    entry[task.module] = sorted(task.params);
    if (task.changed_when !== null) entry.changed_when = task.changed_when;
    return entry;
  });
  return [play];
}

/**
 * Renders Ansible YAML that parses back to exactly `playbookData` under YAML 1.1 (PyYAML, which
 * Ansible uses) and YAML 1.2 alike: every string value is double-quoted (so `yes`, `on`, `1.10`,
 * `~`, `=`, `*x`, `#x`, `a: b` stay strings), except multi-line text, which becomes a literal
 * block (`|`, with chomping and indentation indicators as needed) so file contents stay reviewable.
 * Keys stay plain only when they are identifiers no YAML version reads as anything else. Strings
 * with Jinja markers are tagged `!unsafe` so Ansible does not template them.
 */
export function renderPlaybook(playbook: RenderablePlaybook, tasks: readonly RenderableTask[]): string {
  const doc = new Document(playbookData(playbook, tasks));
  visit(doc, {
    Scalar(key, node, path) {
      if (typeof node.value !== "string") return;
      if (key === "key") {
        node.type = plainKey(node.value) ? Scalar.PLAIN : Scalar.QUOTE_DOUBLE;
        return;
      }
      node.type = literalBlock(node.value) ? Scalar.BLOCK_LITERAL : Scalar.QUOTE_DOUBLE;
      // Ansible renders module arguments and names as Jinja: a captured file or command holding
      // `{{`, `{%` or `{#` would be templated (or fail on an undefined variable) instead of written
      // as it was. `!unsafe` makes Ansible take the text literally. changed_when is Jinja by design.
      const parent = path.at(-1);
      const underChangedWhen = isPair(parent) && isScalar(parent.key) && parent.key.value === "changed_when";
      if (jinja.test(node.value) && !underChangedWhen) node.tag = "!unsafe";
    },
  });
  const text = doc.toString({ lineWidth: 0, indent: 2, indentSeq: true });
  // Only double-quoted scalars can hold these (plain keys and literal blocks exclude them), and the
  // yaml package writes them raw; PyYAML reads them raw as line breaks or refuses them, so escape.
  return `---\n${text.replace(mustEscape, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}`;
}

/** Where Jinja starts an expression, a statement or a comment. */
const jinja = /\{[{%#]/;

/** DEL and C1 controls (U+0085 included), YAML 1.1 line breaks, BOM, and noncharacters. */
const mustEscape = /(?![\t\n])[\p{Cc}\u2028\u2029\ufeff\ufffe\uffff]/gu;

/** Words some YAML version (1.1 in particular) resolves to booleans or null when plain. */
const specialWords = new Set(["y", "n", "yes", "no", "on", "off", "true", "false", "null"]);

function plainKey(key: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) && !specialWords.has(key.toLowerCase());
}

/**
 * Multi-line text a literal block carries exactly. Excluded, and double-quoted with escapes instead:
 * carriage returns and other control characters (a block would normalise or reject them),
 * U+0085/U+2028/U+2029 (line breaks to YAML 1.1), U+FEFF and noncharacters, text whose last
 * line is only whitespace (a block cannot end in trailing whitespace), lines that start with a tab
 * (libyaml takes it for indentation), and whitespace-only text.
 */
function literalBlock(value: string): boolean {
  return (
    value.includes("\n") &&
    !/(?![\t\n])[\p{Cc}\u2028\u2029\ufeff\ufffe\uffff]/u.test(value) &&
    !/\n[\t ]+$/.test(value) &&
    !/(^|\n)\t/.test(value) &&
    !/^\s*$/.test(value)
  );
}

function sorted(value: unknown): Data {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    // fromEntries defines own properties, so even a `__proto__` key stays data.
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
    );
  }
  return value as Data;
}
