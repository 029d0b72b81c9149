import { describe, expect, it } from "vitest";
import { assertPlaybookYaml, playbookHash } from "./playbook-text.js";

const refusal = (yaml: string) => {
  try {
    assertPlaybookYaml(yaml);
    return undefined;
  } catch (err) {
    return err as { code: string; message: string };
  }
};

describe("playbook text", () => {
  it("hashes the YAML's UTF-8 bytes with sha256 (as sha256sum does)", () => {
    expect(playbookHash("---\n- hosts: all\n")).toBe(
      "3fd1a5a267ecddf2cbf061ad28f3b3c23d81eb5ecf4168062fbe223e522a771d",
    );
  });

  it("accepts a list of plays, Ansible's !unsafe tag included", () => {
    expect(refusal('---\n- hosts: all\n  tasks:\n    - ansible.builtin.debug:\n        msg: !unsafe "{{ x }}"\n')).toBe(
      undefined,
    );
  });

  it("refuses text that is not YAML", () => {
    expect(refusal("- hosts: [all\n")).toMatchObject({ code: "invalid_request" });
    expect(refusal("- hosts: [all\n")?.message).toContain("not valid YAML");
  });

  it("refuses YAML that is not a non-empty list of mappings", () => {
    expect(refusal("hosts: all\n")?.message).toBe("playbook must be a YAML list of plays");
    expect(refusal("[]\n")?.message).toBe("playbook must be a YAML list of plays");
    expect(refusal("- just a string\n")?.message).toBe("each play in the playbook must be a mapping");
  });
});
