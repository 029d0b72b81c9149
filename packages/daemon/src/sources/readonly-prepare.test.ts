import { describe, expect, it } from "vitest";
import { READONLY_SHELL_PATH } from "../policy/index.js";
import { prepareScript, READONLY_USER } from "./readonly-prepare.js";

const caLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr7kPVbLOBR7yNX8bYnm4PgqLqvQ5m1y7vCzvZ8nE1x fluid-ca";

describe("prepareScript", () => {
  it("installs the shell, the user, the CA and the sshd drop-in, reporting each step", () => {
    const script = prepareScript(caLine, "#!/usr/bin/perl\nprint 1;\n", false);
    expect(script).toContain("#!/usr/bin/perl\nprint 1;\n");
    expect(script).toContain(
      `useradd --system --no-create-home --home-dir / --shell ${READONLY_SHELL_PATH} ${READONLY_USER}`,
    );
    expect(script).toContain(`printf '%s\\n' '${caLine}' > /etc/ssh/fluid_ca.pub`);
    expect(script).toContain(`ForceCommand ${READONLY_SHELL_PATH}`);
    const steps = [...script.matchAll(/^echo step (\w+)$/gm)].map((m) => m[1]);
    expect(steps).toEqual(["shell", "user", "ca", "principals", "sshd_config", "apply_access_removed", "sshd_reload"]);
  });

  it("installs the apply access only when asked", () => {
    expect(prepareScript(caLine, "", true)).toMatch(/^echo step apply_access$/m);
    expect(prepareScript(caLine, "", false)).not.toMatch(/^echo step apply_access$/m);
  });

  it("refuses a CA line that could break out of the script", () => {
    expect(() => prepareScript(`${caLine}'; reboot; '`, "", false)).toThrow(/CA key line/);
  });
});
