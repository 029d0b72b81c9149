import { trickyContents, trickyStrings } from "@fluid/testkit";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { playbookData, type RenderableTask, renderPlaybook } from "./render.js";

const playbook = { name: "Web tier", hosts: "webservers", become: true };
/** Ansible's `!unsafe` (literal text, never templated), as a plain string for these checks. */
const unsafe = { tag: "!unsafe", resolve: (value: string) => value };

function trickyTasks(): RenderableTask[] {
  const strings = Object.fromEntries(trickyStrings.map((s, i) => [`s${i}`, s]));
  return [
    ...trickyContents.map((content, i) => ({
      name: `content ${i}`,
      module: "ansible.builtin.copy",
      params: { dest: `/etc/f${i}`, content },
      changed_when: null,
    })),
    {
      name: "yes",
      module: "ansible.builtin.debug",
      params: {
        ...strings,
        list: [...trickyStrings, ...trickyContents],
        nested: { on: { yes: ["no", 1.1, 10, -0.5, 0, true, false, null, {}, []] }, "a b": "c", "<<": "m", "=": "v" },
      },
      changed_when: null,
    },
    {
      name: "1.10",
      module: "ansible.builtin.command",
      params: { cmd: "echo 'hi' # no: comment", creates: "/x" },
      changed_when: "'changed' in result.stdout",
    },
    { name: "off", module: "ansible.builtin.shell", params: { cmd: "a\nb\n", removes: "/y" }, changed_when: false },
  ];
}

describe("playbook rendering", () => {
  it("renders one play in a fixed key order, become only when true", () => {
    const yaml = renderPlaybook(playbook, [
      {
        name: "Install nginx",
        module: "ansible.builtin.apt",
        params: { state: "present", name: "nginx" },
        changed_when: null,
      },
    ]);
    expect(yaml).toBe(
      [
        "---",
        '- name: "Web tier"',
        '  hosts: "webservers"',
        "  become: true",
        "  tasks:",
        '    - name: "Install nginx"',
        "      ansible.builtin.apt:",
        '        name: "nginx"',
        '        state: "present"',
        "",
      ].join("\n"),
    );
    const plain = renderPlaybook({ ...playbook, become: false }, []);
    expect(plain).not.toContain("become");
    expect(parse(plain)).toEqual([{ name: "Web tier", hosts: "webservers", tasks: [] }]);
  });

  it("puts changed_when after the module and renders copy content as a literal block", () => {
    const yaml = renderPlaybook(playbook, [
      { name: "Check", module: "ansible.builtin.command", params: { cmd: "true" }, changed_when: false },
      {
        name: "Conf",
        module: "ansible.builtin.copy",
        params: { dest: "/etc/x", content: "a: 1\nb: yes\n" },
        changed_when: null,
      },
    ]);
    expect(yaml).toContain(
      [
        '    - name: "Check"',
        "      ansible.builtin.command:",
        '        cmd: "true"',
        "      changed_when: false",
      ].join("\n"),
    );
    expect(yaml).toContain(
      ["        content: |", "          a: 1", "          b: yes", '        dest: "/etc/x"'].join("\n"),
    );
  });

  it.each([
    ["1.2", "1.2"],
    ["1.1", "1.1"],
  ] as const)("round-trips tricky strings and file contents exactly under YAML %s", (_, version) => {
    const tasks = trickyTasks();
    const yaml = renderPlaybook(playbook, tasks);
    expect(parse(yaml, { version, uniqueKeys: true, merge: false, customTags: [unsafe] })).toEqual(
      playbookData(playbook, tasks),
    );
  });

  it("tags text with Jinja markers !unsafe so Ansible writes it as it is, but not changed_when", () => {
    const yaml = renderPlaybook({ name: "p", hosts: "all", become: false }, [
      {
        name: "template {{ x }}",
        module: "ansible.builtin.copy",
        params: { dest: "/etc/app.tmpl", content: "Hello {{ name }}\n{% raw %}\n" },
        changed_when: "{{ result.rc == 0 }}",
      },
      { name: "plain", module: "ansible.builtin.debug", params: { msg: "no braces {x}" }, changed_when: null },
    ]);
    expect(yaml).toContain('- name: !unsafe "template {{ x }}"');
    expect(yaml).toContain("content: !unsafe |\n          Hello {{ name }}");
    expect(yaml).toContain('changed_when: "{{ result.rc == 0 }}"');
    expect(yaml).toContain('msg: "no braces {x}"');
  });

  it("quotes every string value, so YAML 1.1 words stay strings", () => {
    const yaml = renderPlaybook({ name: "on", hosts: "all", become: false }, [
      { name: "yes", module: "ansible.builtin.debug", params: { msg: "no", var: "1.10" }, changed_when: null },
    ]);
    expect(yaml).toContain('- name: "on"');
    expect(yaml).toContain('msg: "no"');
    expect(yaml).toContain('var: "1.10"');
  });

  it("is stable: the same playbook renders the same bytes whatever the key order", () => {
    const a = renderPlaybook(playbook, [
      {
        name: "t",
        module: "ansible.builtin.file",
        params: { path: "/a", state: "directory", mode: "0755", x: { b: 1, a: 2 } },
        changed_when: null,
      },
    ]);
    const b = renderPlaybook(playbook, [
      {
        name: "t",
        module: "ansible.builtin.file",
        params: { x: { a: 2, b: 1 }, mode: "0755", state: "directory", path: "/a" },
        changed_when: null,
      },
    ]);
    expect(a).toBe(b);
    expect(a.indexOf("mode:")).toBeLessThan(a.indexOf("path:"));
  });

  it("escapes characters YAML 1.1 reads as line breaks or refuses", () => {
    const yaml = renderPlaybook(playbook, [
      {
        name: "t",
        module: "ansible.builtin.debug",
        params: { msg: "a\u2028b\u0085c\u007fd\ufeffe\ufffe" },
        changed_when: null,
      },
    ]);
    expect(yaml).toContain('msg: "a\\u2028b\\u0085c\\u007fd\\ufeffe\\ufffe"');
    expect(yaml).not.toMatch(/[\u2028\u0085\u007f\ufeff\ufffe]/);
  });
});
