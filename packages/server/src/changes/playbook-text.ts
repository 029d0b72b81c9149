import { createHash } from "node:crypto";
import { parseDocument } from "yaml";
import { invalid } from "../http/errors.js";

/** Largest playbook a change request holds (a generated one carries whole config files). */
export const maxPlaybookBytes = 4 * 1024 * 1024;

/** sha256 of the YAML's bytes as stored: what approvals bind to. */
export function playbookHash(yaml: string): string {
  return createHash("sha256").update(yaml, "utf8").digest("hex");
}

/**
 * Refuses text that is not a playbook's shape before anything runs it: YAML that parses, and whose
 * document is a list of plays (mappings). Ansible checks the rest when verification runs it.
 */
export function assertPlaybookYaml(yaml: string): void {
  if (Buffer.byteLength(yaml, "utf8") > maxPlaybookBytes) {
    throw invalid(`playbook must be at most ${maxPlaybookBytes} bytes`);
  }
  // Ansible's own tags (!unsafe, !vault) are fine here; only the structure is checked.
  const doc = parseDocument(yaml, { customTags: [unsafeTag, vaultTag] });
  if (doc.errors.length > 0) throw invalid(`playbook is not valid YAML: ${doc.errors[0]?.message.split("\n")[0]}`);
  const value: unknown = doc.toJS();
  if (!Array.isArray(value) || value.length === 0) throw invalid("playbook must be a YAML list of plays");
  if (!value.every((play) => play !== null && typeof play === "object" && !Array.isArray(play))) {
    throw invalid("each play in the playbook must be a mapping");
  }
}

const unsafeTag = { tag: "!unsafe", resolve: (text: string) => text };
const vaultTag = { tag: "!vault", resolve: (text: string) => text };
