import { describe, expect, it } from "vitest";
import { EGRESS_DENIED, egressQuestion, networkAccessIn } from "./egress.js";

describe("networkAccessIn", () => {
  it.each([
    ["curl http://x", "curl"],
    ["wget -qO- example.com", "wget"],
    ["nc -l 8080", "nc"],
    ["netcat host 22", "netcat"],
    ["ssh root@10.0.0.2 uptime", "ssh"],
    ["scp a b:", "scp"],
    ["rsync -a src/ host:dst", "rsync"],
    ["ftp host", "ftp"],
    ["sftp host", "sftp"],
    ["telnet host 25", "telnet"],
    ["nmap -sV 10.0.0.0/24", "nmap"],
    ["ping", "ping"],
    ["cd /tmp && curl -O x", "curl"],
    ["ls | nc host 9", "nc"],
    ["true;ssh host", "ssh"],
    ['echo "$(wget -O- x)"', "wget"],
    ["echo `ping -c1 x`", "ping"],
    ["sudo  curl x", "curl"],
    ["(ping -c1 x)", "ping"],
    ['sh -c "curl x"', "curl"],
    ["/usr/bin/curl x", "curl"],
    ["false || ping x", "ping"],
    ["sleep 1 & nc x 1", "nc"],
    ["\tping x", "ping"],
  ])("finds the program in %j", (command, found) => {
    expect(networkAccessIn(command)).toBe(found);
  });

  it.each([
    ["git clone https://github.com/acme/app.git", "https://github.com/acme/app.git"],
    ["python3 -c 'import urllib.request as u; u.urlopen(\"http://10.0.0.1:8000/x\")'", "http://10.0.0.1:8000/x"],
    ["pip download --index-url HTTPS://pypi.org/simple x", "HTTPS://pypi.org/simple"],
    ["lftp ftp://mirror/pub", "ftp://mirror/pub"],
    ["x sftp://host/path", "sftp://host/path"],
  ])("finds the URL in %j", (command, found) => {
    expect(networkAccessIn(command)).toBe(found);
  });

  it.each([
    "ls -la /etc",
    "curlie",
    "ssh-keygen -t ed25519 -f k",
    "cat ~/.ssh/config",
    "echo curling",
    "grep -r pingback .",
    "apt-get install -y ncdu",
    "mycurl x",
    "echo file://etc/hosts",
    "systemctl status sshd",
  ])("leaves %j alone", (command) => {
    expect(networkAccessIn(command)).toBeUndefined();
  });
});

describe("egressQuestion", () => {
  it("asks before run_command and run_source_command reach the network", () => {
    expect(egressQuestion("run_command", { sandbox_id: "s", command: "curl http://x" })).toBe(
      "run_command wants network access (curl):\n  curl http://x\nAllow it?",
    );
    expect(egressQuestion("run_source_command", { source_vm: "web", command: "ping db" })).toMatch(
      /^run_source_command/,
    );
  });

  it("does not ask for other commands, other tools or malformed arguments", () => {
    expect(egressQuestion("run_command", { sandbox_id: "s", command: "uname -a" })).toBeUndefined();
    expect(egressQuestion("write_file", { sandbox_id: "s", path: "/x", content: "curl http://x" })).toBeUndefined();
    expect(egressQuestion("run_command", { sandbox_id: "s", command: 42 })).toBeUndefined();
  });

  it("tells the model the command was not run", () => {
    expect(JSON.parse(EGRESS_DENIED)).toEqual({ error: "network access denied by user", exit_code: -1 });
  });
});
