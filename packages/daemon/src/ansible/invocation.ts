import { join } from "node:path";

/** Where one run keeps its files: a private directory (0700) removed after the run. */
export interface RunFiles {
  dir: string;
  playbook: string;
  inventory: string;
  privateKey: string;
  certificate: string;
  knownHosts: string;
  config: string;
  home: string;
  localTemp: string;
  controlDir: string;
}

export function runFiles(dir: string): RunFiles {
  // ansible splits its ssh arguments on whitespace, so a path with a blank would break them.
  if (/\s/.test(dir)) throw new Error(`run directory ${dir} contains whitespace`);
  return {
    dir,
    playbook: join(dir, "playbook.yml"),
    inventory: join(dir, "inventory"),
    privateKey: join(dir, "id_ed25519"),
    certificate: join(dir, "id_ed25519-cert.pub"),
    knownHosts: join(dir, "known_hosts"),
    config: join(dir, "ansible.cfg"),
    home: join(dir, "home"),
    localTemp: join(dir, "home", "tmp"),
    controlDir: join(dir, "cp"),
  };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The inventory: the sandbox's address, the name its PLAY RECAP line carries. */
export function inventoryFor(ip: string): string {
  if (!IPV4.test(ip)) throw new Error(`invalid sandbox address ${ip}`);
  return `${ip}\n`;
}

/**
 * known_hosts pinning the sandbox's own host key, read from the guest through its agent (a channel
 * the network cannot spoof), so host key checking stays on.
 */
export function knownHostsFor(ip: string, hostKeyLine: string): string {
  const line = hostKeyLine.trim();
  const [type, key] = line.split(/[ \t]+/);
  if (line.includes("\n") || !type || !key || !/^ssh-ed25519$/.test(type) || !/^[A-Za-z0-9+/]+=*$/.test(key))
    throw new Error("the sandbox's ed25519 host key is malformed");
  return `${inventoryFor(ip).trim()} ${type} ${key}\n`;
}

/** ansible-playbook's argument vector (never run through a shell). */
export function playbookArgv(files: RunFiles, options: { check: boolean }): string[] {
  return [
    "ansible-playbook",
    "-i",
    files.inventory,
    "-u",
    "root",
    "--private-key",
    files.privateKey,
    "-e",
    "ansible_python_interpreter=/usr/bin/python3",
    ...(options.check ? ["--check", "--diff"] : []),
    files.playbook,
  ];
}

/**
 * The whole environment of the run, nothing inherited but PATH: the daemon's own environment may
 * hold its host token. ANSIBLE_CONFIG names an empty file so no ansible.cfg on the host applies;
 * HOME, the local temp and the SSH control sockets live in the run's directory and go with it.
 */
export function playbookEnv(files: RunFiles, path: string | undefined): Record<string, string> {
  const sshArgs = [
    "-C",
    "-o ControlMaster=auto",
    "-o ControlPersist=60s",
    `-o CertificateFile=${files.certificate}`,
    "-o IdentitiesOnly=yes",
    "-o BatchMode=yes",
    `-o UserKnownHostsFile=${files.knownHosts}`,
    "-o GlobalKnownHostsFile=/dev/null",
    "-o StrictHostKeyChecking=yes",
    "-o HostKeyAlgorithms=ssh-ed25519",
    // sshd may be reloading for the CA it was just told to trust: retry a refused connection.
    "-o ConnectionAttempts=10",
  ];
  return {
    PATH: path || "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: files.home,
    LANG: "C.UTF-8",
    ANSIBLE_CONFIG: files.config,
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
    ANSIBLE_RETRY_FILES_ENABLED: "0",
    ANSIBLE_HOST_KEY_CHECKING: "True",
    ANSIBLE_LOCAL_TEMP: files.localTemp,
    ANSIBLE_SSH_CONTROL_PATH_DIR: files.controlDir,
    ANSIBLE_SSH_ARGS: sshArgs.join(" "),
    // Connection setup is slow on a loaded TCG host; ansible's default of 10 s gives up too early.
    ANSIBLE_TIMEOUT: "60",
    ANSIBLE_STDOUT_CALLBACK: "default",
    // One SSH exec per task instead of mkdir/put/chmod/exec/rm round trips: under TCG each costs seconds.
    // Safe because ansible logs in as root (no sudo, so no requiretty).
    ANSIBLE_PIPELINING: "True",
  };
}
