import { describe, expect, it } from "vitest";
import { InspectionSchema, inspectionCommand } from "./inspections.js";

const command = (input: unknown) => inspectionCommand(InspectionSchema.parse(input));

describe("typed source inspections", () => {
  it("build one command line each, with arguments single-quoted for the read-only shell", () => {
    expect(command({ kind: "list_dir", path: "/etc/nginx" })).toBe("ls -la -- '/etc/nginx'");
    expect(command({ kind: "stat", path: "/srv/it's here" })).toBe("stat -- '/srv/it'\\''s here'");
    expect(command({ kind: "unit_status", unit: "nginx.service" })).toBe(
      "systemctl status --no-pager --full -- 'nginx.service'",
    );
    expect(command({ kind: "journal" })).toBe("journalctl --no-pager -n 100");
    expect(command({ kind: "journal", unit: "ssh.service", lines: 5, since: "-1h", priority: "err" })).toBe(
      "journalctl --no-pager -n 5 -u 'ssh.service' --since '-1h' -p err",
    );
    expect(command({ kind: "packages", name: "openssl" })).toBe(
      `dpkg-query -W -f '\${Package}\\t\${Version}\\t\${Status}\\n' 'openssl'`,
    );
    expect(command({ kind: "processes" })).toBe("ps -eo pid,ppid,user,pcpu,pmem,etime,args --sort=-pcpu");
    expect(command({ kind: "listening_sockets" })).toBe("ss -tulpn");
  });

  it("refuses arguments that are not what they claim to be", () => {
    for (const bad of [
      { kind: "list_dir", path: "etc" },
      { kind: "stat", path: "/etc\n/shadow" },
      { kind: "unit_status", unit: "-H evil" },
      { kind: "journal", since: "$(id)" },
      { kind: "journal", lines: 100_000 },
      { kind: "packages", name: "Open SSL" },
      { kind: "processes", extra: true },
      { kind: "shell", command: "id" },
    ]) {
      expect(InspectionSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
