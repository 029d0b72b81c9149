/**
 * The read-only command policy as data: the single source of truth for both enforcement layers.
 *
 * Layer 1 (the daemon, `check.ts`) interprets these tables directly; layer 2 (`fluid-readonly-shell` on the
 * source VM, Perl) gets them serialised into the script by `shell.ts`. Regular expressions here are written
 * in the subset shared by JavaScript and Perl: character classes, `^`, `$`, `|`, groups, `(?!…)`; no `\d`,
 * `\w`, `\s` or `\b` (their meaning differs between the two engines).
 */

/** A regular expression (shared JS/Perl subset) and the reason given when a value does not match it. */
export interface PatternRule {
  pattern: string;
  reason: string;
}

export interface ProgramRule {
  /**
   * How arguments are read: `gnu` (short clusters `-abc`, `--long[=value]`, options anywhere until `--`),
   * `words` (every `-word` is one option, as `ip` does), `none` (no options: every argument is an operand).
   */
  syntax: "gnu" | "words" | "none";
  /** At most this many arguments (env). */
  maxArgs?: { count: number; reason: string };
  /** The first argument must match (rpm: query mode only). */
  firstArg?: PatternRule;
  /** Arguments refused wherever they appear (find's actions). */
  deniedWords?: Record<string, string>;
  /** Options end at the first operand (awk, ip). */
  optionsFirst?: boolean;
  /** Short option letters taking a required value: the rest of the cluster, else the next argument. */
  valueShort?: string;
  /** Short option letters whose optional value can only be attached (`date -Iseconds`, `journalctl -n5`). */
  optionalShort?: string;
  /** Long options (or `words` options) taking a required value: `--x=v` or `--x v`. */
  valueLong?: string[];
  /** When present, only these options are accepted (strict programs). */
  allowed?: string[];
  /** Options refused with a reason; a long option also refuses its abbreviations (`--outp` for `--output`). */
  denied?: Record<string, string>;
  /** Values an option must have (`top -n 1..5`). */
  valueRules?: Record<string, PatternRule>;
  /** Each entry: at least one of these options must be present. */
  required?: { options: string[]; reason: string }[];
  maxOperands?: { count: number; reason: string };
  /** Every operand must match. */
  operandPattern?: PatternRule;
  /**
   * The first operand, if any, must be one of these; the value lists the allowed second operands (verbs),
   * or is null when anything may follow.
   */
  subcommands?: Record<string, string[] | null>;
  /** Program text checked by code that exists in both layers (`scripts.ts`, and its Perl twin). */
  script?: "awk" | "sed";
}

export const limits = {
  /** Longest command line accepted, in UTF-8 bytes. */
  maxCommandBytes: 8192,
  /** Most commands in one line, counting every pipeline member. */
  maxCommands: 32,
};

/**
 * How layer 2 contains each command it runs: in a session of its own, every program under these resource
 * limits, the whole session killed (SIGTERM, then SIGKILL after the grace period) at the deadline, past the
 * output cap, or as soon as the SSH connection ends. The daemon's own timeouts and output caps are tighter;
 * these bound what a command can cost the production VM whatever happens to the daemon.
 */
export interface ExecutionLimits {
  /** Wall-clock deadline; the API's longest command timeout. */
  wallSeconds: number;
  /** CPU time of each program (RLIMIT_CPU). */
  cpuSeconds: number;
  /** Address space of each program (RLIMIT_AS). */
  addressSpaceBytes: number;
  /** Largest file a program may write (RLIMIT_FSIZE): sort's temporary files, nothing else. */
  fileSizeBytes: number;
  /** Processes of the read-only user a program may fork up to (RLIMIT_NPROC). */
  processes: number;
  /** Standard output and error together; above the daemon's largest cap (a file read as base64). */
  outputBytes: number;
  killGraceSeconds: number;
}

export const executionLimits: ExecutionLimits = {
  wallSeconds: 600,
  cpuSeconds: 120,
  addressSpaceBytes: 1024 * 1024 * 1024,
  fileSizeBytes: 64 * 1024 * 1024,
  processes: 128,
  outputBytes: 16 * 1024 * 1024,
  killGraceSeconds: 2,
};

/** Where programs may live when given as a path: `/usr/bin/cat`, never `./cat` or `/usr/bin/../bin/rm`. */
export const programPathPattern = "^(/usr)?/s?bin/([^/]+)$";

/** Environment of commands run by layer 2 (besides HOME, which is the login user's home directory). */
export const executionEnvironment: Record<string, string> = {
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C.UTF-8",
  // pagers (less) can run shell commands; systemctl, journalctl and dpkg -l start one when given a terminal
  PAGER: "cat",
  SYSTEMD_PAGER: "cat",
  DPKG_PAGER: "cat",
};

const reader: ProgramRule = { syntax: "gnu" };
const plain: ProgramRule = { syntax: "none" };
const follow = "following output never ends (-f/--follow is not allowed)";
const outbound = "read-only inspection makes no outbound connections";
const recursive = "grep -r reads every file below a directory, past the path policy";
/** A delay or timeout in seconds, at most 10: a bounded count times an unbounded delay never ends. */
const shortDelay = "^([0-9]|10)([.][0-9]+)?$";
const viewVerbs = ["show", "list", "lst"];

export const programs: Record<string, ProgramRule> = {
  // files
  cat: reader,
  ls: reader,
  head: reader,
  tail: {
    syntax: "gnu",
    valueShort: "ncs",
    valueLong: ["--lines", "--bytes", "--pid", "--sleep-interval", "--max-unchanged-stats"],
    denied: { "-f": `tail ${follow}`, "-F": `tail ${follow}`, "--follow": `tail ${follow}` },
    // the obsolete `tail +1f FILE` is `tail -n +1 -f FILE`
    operandPattern: { pattern: "^(?![+])", reason: "tail +N… is the obsolete syntax (+Nf follows); write tail -n +N" },
  },
  stat: reader,
  file: {
    syntax: "gnu",
    valueShort: "efFmP",
    valueLong: ["--magic-file", "--files-from", "--separator", "--exclude", "--exclude-quiet", "--parameter"],
    denied: {
      "-C": "file -C compiles a magic file (it writes)",
      "--compile": "file -C compiles a magic file (it writes)",
    },
  },
  wc: { syntax: "gnu", denied: { "--files0-from": "--files0-from reads file names the path policy cannot check" } },
  du: {
    syntax: "gnu",
    valueShort: "dtBX",
    valueLong: ["--max-depth", "--threshold", "--block-size", "--exclude-from", "--exclude", "--time-style"],
    denied: { "--files0-from": "--files0-from reads file names the path policy cannot check" },
  },
  tree: {
    syntax: "gnu",
    denied: {
      "-o": "tree -o writes its output to a file",
      "-R": "tree -R writes 00Tree.html files",
    },
  },
  strings: {
    syntax: "gnu",
    operandPattern: { pattern: "^(?!@)", reason: "strings @FILE reads options from a file" },
  },
  md5sum: reader,
  sha1sum: reader,
  sha256sum: reader,
  sha512sum: reader,
  readlink: reader,
  realpath: reader,
  basename: reader,
  dirname: reader,
  base64: reader,

  // processes and services
  ps: {
    syntax: "gnu",
    valueShort: "CgGoOpqstuU",
    valueLong: [
      "--cols",
      "--columns",
      "--format",
      "--group",
      "--Group",
      "--pid",
      "--ppid",
      "--quick-pid",
      "--rows",
      "--sid",
      "--sort",
      "--tty",
      "--user",
      "--User",
      "--width",
    ],
    valueRules: Object.fromEntries(
      ["-o", "-O", "--format"].map((option) => [
        option,
        { pattern: "^(?!.*[Ee][Nn][Vv])", reason: "ps environ shows other processes' environments" },
      ]),
    ),
    // BSD-style words (`ps aux`, `ps eww`): e shows environments, o takes a format
    operandPattern: {
      pattern: "^(?![A-Za-z]*e[A-Za-z]*$)(?!.*[Ee][Nn][Vv])",
      reason: "ps e and ps environ show other processes' environments",
    },
  },
  pgrep: reader,
  top: {
    syntax: "gnu",
    allowed: ["-b", "-n", "-c", "-H", "-i", "-o", "-p", "-u", "-U", "-d", "-E", "-e", "-1", "-S", "-s"],
    valueShort: "nopuUdEe",
    required: [
      { options: ["-b"], reason: "top needs -b (batch mode)" },
      { options: ["-n"], reason: "top needs -n N (at most 5 iterations)" },
    ],
    valueRules: {
      "-n": { pattern: "^[1-5]$", reason: "top -n must be between 1 and 5" },
      "-d": { pattern: shortDelay, reason: "top -d must be at most 10 seconds" },
    },
    maxOperands: { count: 0, reason: "top takes no operands" },
  },
  systemctl: {
    syntax: "gnu",
    allowed: [
      "-a",
      "--all",
      "-l",
      "--full",
      "--no-pager",
      "--no-legend",
      "--plain",
      "-t",
      "--type",
      "--state",
      "-p",
      "--property",
      "-P",
      "--value",
      "--user",
      "--system",
      "-r",
      "--recursive",
      "--reverse",
      "--after",
      "--before",
      "-n",
      "--lines",
      "-o",
      "--output",
      "--failed",
      "-q",
      "--quiet",
      "--show-types",
      "--no-ask-password",
      "-h",
      "--help",
      "--version",
    ],
    valueShort: "tpPno",
    valueLong: ["--type", "--state", "--property", "--lines", "--output"],
    subcommands: {
      status: null,
      show: null,
      cat: null,
      "list-units": null,
      "list-unit-files": null,
      "list-timers": null,
      "list-sockets": null,
      "list-dependencies": null,
      "is-active": null,
      "is-enabled": null,
      "is-failed": null,
    },
  },
  journalctl: {
    syntax: "gnu",
    valueShort: "cDFgMoptSTuU",
    optionalShort: "bn",
    valueLong: [
      "--unit",
      "--user-unit",
      "--identifier",
      "--exclude-identifier",
      "--priority",
      "--facility",
      "--since",
      "--until",
      "--output",
      "--output-fields",
      "--directory",
      "--file",
      "--root",
      "--image",
      "--machine",
      "--namespace",
      "--grep",
      "--field",
      "--cursor",
      "--after-cursor",
      "--verify-key",
    ],
    denied: {
      "-f": `journalctl ${follow}`,
      "--follow": `journalctl ${follow}`,
      "--vacuum-size": "journalctl --vacuum-* deletes journal files",
      "--vacuum-time": "journalctl --vacuum-* deletes journal files",
      "--vacuum-files": "journalctl --vacuum-* deletes journal files",
      "--rotate": "journalctl --rotate changes the journal",
      "--flush": "journalctl --flush changes the journal",
      "--sync": "journalctl --sync changes the journal",
      "--relinquish-var": "journalctl --relinquish-var changes the journal",
      "--smart-relinquish-var": "journalctl --smart-relinquish-var changes the journal",
      "--setup-keys": "journalctl --setup-keys writes sealing keys",
      "--update-catalog": "journalctl --update-catalog writes the catalog",
      "--cursor-file": "journalctl --cursor-file writes a file",
    },
  },
  dmesg: {
    syntax: "gnu",
    valueShort: "Fflns",
    optionalShort: "L",
    valueLong: ["--file", "--facility", "--level", "--buffer-size", "--time-format", "--since", "--until"],
    denied: {
      "-c": "dmesg -c clears the kernel ring buffer",
      "--read-clear": "dmesg -c clears the kernel ring buffer",
      "-C": "dmesg -C clears the kernel ring buffer",
      "--clear": "dmesg -C clears the kernel ring buffer",
      "-D": "dmesg -D changes console logging",
      "--console-off": "dmesg -D changes console logging",
      "-E": "dmesg -E changes console logging",
      "--console-on": "dmesg -E changes console logging",
      "-n": "dmesg -n changes the console log level",
      "--console-level": "dmesg -n changes the console log level",
      "-w": `dmesg ${follow}`,
      "--follow": `dmesg ${follow}`,
      "-W": `dmesg ${follow}`,
      "--follow-new": `dmesg ${follow}`,
    },
  },

  // network
  ss: {
    syntax: "gnu",
    valueShort: "ADfFN",
    valueLong: ["--query", "--socket", "--family", "--filter", "--net"],
    denied: {
      "-K": "ss -K kills sockets",
      "--kill": "ss -K kills sockets",
      "-D": "ss -D dumps to a file",
      "--diag": "ss -D dumps to a file",
      "-E": "ss -E never ends (it follows socket events)",
      "--events": "ss -E never ends (it follows socket events)",
    },
  },
  netstat: {
    syntax: "gnu",
    valueShort: "A",
    denied: {
      "-c": "netstat -c never ends (continuous output)",
      "--continuous": "netstat -c never ends (continuous output)",
    },
  },
  ip: {
    syntax: "words",
    optionsFirst: true,
    allowed: [
      "-4",
      "-6",
      "-s",
      "-stats",
      "-statistics",
      "-d",
      "-details",
      "-br",
      "-brief",
      "-j",
      "-json",
      "-p",
      "-pretty",
      "-o",
      "-oneline",
      "-c",
      "-color",
      "-h",
      "-human",
      "-human-readable",
      "-r",
      "-resolve",
      "-a",
      "-all",
      "-t",
      "-timestamp",
      "-ts",
      "-tshort",
      "-n",
      "-netns",
      "-f",
      "-family",
    ],
    valueLong: ["-n", "-netns", "-f", "-family"],
    subcommands: {
      a: viewVerbs,
      addr: viewVerbs,
      address: viewVerbs,
      l: viewVerbs,
      link: viewVerbs,
      r: [...viewVerbs, "get"],
      ro: [...viewVerbs, "get"],
      route: [...viewVerbs, "get"],
      n: viewVerbs,
      neigh: viewVerbs,
      neighbor: viewVerbs,
      neighbour: viewVerbs,
      rule: viewVerbs,
    },
  },
  ifconfig: {
    syntax: "gnu",
    allowed: ["-a", "-s", "-v"],
    maxOperands: { count: 1, reason: "ifconfig with more than an interface name changes the interface" },
  },
  dig: {
    syntax: "gnu",
    denied: { "-p": `dig -p queries a chosen port (${outbound})` },
    operandPattern: { pattern: "^(?!@)", reason: `dig @SERVER queries a chosen server (${outbound})` },
  },
  nslookup: {
    syntax: "gnu",
    maxOperands: { count: 1, reason: `nslookup NAME SERVER queries a chosen server (${outbound})` },
  },
  ping: {
    syntax: "gnu",
    valueShort: "ceFiIlmMpQsStTwW",
    denied: {
      "-f": "ping -f floods the network",
      "-p": `ping -p sends chosen bytes (${outbound})`,
    },
    required: [{ options: ["-c"], reason: "ping needs -c N (at most 10 packets)" }],
    valueRules: {
      "-c": { pattern: "^([1-9]|10)$", reason: "ping -c must be between 1 and 10" },
      "-i": { pattern: shortDelay, reason: "ping -i must be at most 10 seconds" },
      "-w": { pattern: shortDelay, reason: "ping -w must be at most 10 seconds" },
      "-W": { pattern: shortDelay, reason: "ping -W must be at most 10 seconds" },
    },
  },

  // disks
  df: reader,
  lsblk: reader,
  blkid: {
    syntax: "gnu",
    denied: {
      "-c": "blkid -c names a cache file it may write",
      "--cache-file": "blkid -c names a cache file it may write",
      "-w": "blkid -w writes a cache file",
    },
  },

  // packages
  dpkg: {
    syntax: "gnu",
    allowed: [
      "-l",
      "--list",
      "-L",
      "--listfiles",
      "-s",
      "--status",
      "-S",
      "--search",
      "-p",
      "--print-avail",
      "-V",
      "--verify",
      "--get-selections",
      "--print-architecture",
      "--print-foreign-architectures",
      "--no-pager",
      "--version",
      "--help",
    ],
  },
  "dpkg-query": {
    syntax: "gnu",
    allowed: [
      "-l",
      "--list",
      "-L",
      "--listfiles",
      "-s",
      "--status",
      "-S",
      "--search",
      "-W",
      "--show",
      "-f",
      "--showformat",
      "-p",
      "--print-avail",
      "-c",
      "--control-path",
      "--control-list",
      "--control-show",
      "--no-pager",
      "--version",
      "--help",
    ],
    valueShort: "f",
    valueLong: ["--showformat"],
  },
  rpm: {
    syntax: "gnu",
    firstArg: { pattern: "^(-q[acdfilpRs]*|--query)$", reason: "rpm is only allowed in query mode (-q…)" },
    allowed: [
      "-q",
      "--query",
      "-a",
      "--all",
      "-c",
      "--configfiles",
      "-d",
      "--docfiles",
      "-f",
      "--file",
      "-i",
      "--info",
      "-l",
      "--list",
      "-p",
      "--package",
      "-R",
      "--requires",
      "-s",
      "--state",
      "--provides",
      "--whatprovides",
      "--whatrequires",
      "--changelog",
      "--scripts",
      "--last",
      "--dump",
      "--qf",
      "--queryformat",
      "--nosignature",
      "--nodigest",
    ],
    valueLong: ["--qf", "--queryformat"],
    operandPattern: { pattern: "^(?!.*://)", reason: `rpm fetches URLs with curl (${outbound})` },
  },
  apt: {
    syntax: "gnu",
    allowed: [
      "--installed",
      "--upgradable",
      "--upgradeable",
      "--all-versions",
      "-a",
      "--manual-installed",
      "-q",
      "--quiet",
      "-h",
      "--help",
      "-v",
      "--version",
    ],
    subcommands: { list: null, show: null, policy: null },
  },
  pip: pipRule(),
  pip3: pipRule(),

  // system
  uname: reader,
  hostname: {
    syntax: "gnu",
    allowed: [
      "-f",
      "--fqdn",
      "--long",
      "-i",
      "--ip-address",
      "-I",
      "--all-ip-addresses",
      "-s",
      "--short",
      "-d",
      "--domain",
      "-A",
      "--all-fqdns",
      "-a",
      "--alias",
      "-V",
      "--version",
      "-h",
      "--help",
    ],
    maxOperands: { count: 0, reason: "hostname NAME sets the hostname (a write)" },
  },
  uptime: reader,
  free: {
    syntax: "gnu",
    valueShort: "cs",
    valueLong: ["--count"],
    denied: {
      "-s": "free -s repeats until killed",
      "--seconds": "free -s repeats until killed",
      "-c": "free -c repeats (a count without a bound)",
      "--count": "free -c repeats (a count without a bound)",
    },
  },
  lscpu: reader,
  lsmod: reader,
  lspci: {
    syntax: "gnu",
    denied: {
      "-q": `lspci -q queries the PCI ID database over DNS (${outbound})`,
      "-Q": `lspci -Q queries the PCI ID database over DNS (${outbound})`,
    },
  },
  lsusb: reader,
  arch: reader,
  nproc: reader,
  date: {
    syntax: "gnu",
    valueShort: "dfrs",
    optionalShort: "I",
    valueLong: ["--date", "--file", "--reference", "--rfc-3339", "--set"],
    denied: { "-s": "date -s sets the clock", "--set": "date -s sets the clock" },
    operandPattern: { pattern: "^[+]", reason: "date only takes a +FORMAT operand (a date operand sets the clock)" },
  },

  // users
  whoami: reader,
  id: reader,
  groups: reader,
  who: reader,
  w: reader,
  last: reader,

  // environment
  env: {
    syntax: "none",
    maxArgs: { count: 0, reason: "env with arguments runs a command; only a bare env is allowed" },
  },
  printenv: {
    syntax: "gnu",
    allowed: ["-0", "--null"],
    operandPattern: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", reason: "printenv only takes variable names" },
  },
  which: reader,
  echo: plain,
  test: plain,
  true: plain,
  false: plain,

  // filters
  grep: {
    syntax: "gnu",
    valueShort: "efmABCdD",
    valueLong: [
      "--regexp",
      "--file",
      "--max-count",
      "--label",
      "--after-context",
      "--before-context",
      "--context",
      "--devices",
      "--binary-files",
      "--include",
      "--exclude",
      "--exclude-from",
      "--exclude-dir",
      "--group-separator",
    ],
    denied: {
      "-r": recursive,
      "-R": recursive,
      "--recursive": recursive,
      "--dereference-recursive": recursive,
      "--directories": "grep --directories: write -d read or -d skip",
    },
    valueRules: { "-d": { pattern: "^(read|skip)$", reason: recursive } },
  },
  awk: { syntax: "gnu", optionsFirst: true, allowed: ["-F", "-v"], valueShort: "Fv", script: "awk" },
  sed: {
    syntax: "gnu",
    allowed: [
      "-n",
      "--quiet",
      "--silent",
      "-e",
      "--expression",
      "-E",
      "-r",
      "--regexp-extended",
      "-s",
      "--separate",
      "-u",
      "--unbuffered",
      "-z",
      "--null-data",
      "-l",
      "--line-length",
      "--posix",
      "--sandbox",
    ],
    valueShort: "el",
    valueLong: ["--expression", "--line-length"],
    denied: {
      "-i": "sed -i edits files in place",
      "--in-place": "sed -i edits files in place",
      "-f": "sed -f reads a script the policy cannot inspect",
      "--file": "sed -f reads a script the policy cannot inspect",
    },
    script: "sed",
  },
  sort: {
    syntax: "gnu",
    valueShort: "koStT",
    valueLong: [
      "--key",
      "--buffer-size",
      "--field-separator",
      "--parallel",
      "--batch-size",
      "--random-source",
      "--sort",
    ],
    denied: {
      "-o": "sort -o writes its output to a file",
      "--output": "sort -o writes its output to a file",
      "-T": "sort -T writes temporary files to a chosen directory",
      "--temporary-directory": "sort -T writes temporary files to a chosen directory",
      "--compress-program": "sort --compress-program runs a program",
      "--files0-from": "--files0-from reads file names the path policy cannot check",
    },
  },
  uniq: {
    syntax: "gnu",
    valueShort: "fsw",
    valueLong: ["--skip-fields", "--skip-chars", "--check-chars"],
    maxOperands: { count: 1, reason: "uniq INPUT OUTPUT writes to OUTPUT; give at most one file" },
  },
  cut: reader,
  tr: reader,

  find: {
    syntax: "none",
    deniedWords: {
      "-exec": "find -exec runs commands",
      "-execdir": "find -execdir runs commands",
      "-ok": "find -ok runs commands",
      "-okdir": "find -okdir runs commands",
      "-delete": "find -delete deletes files",
      "-fprint": "find -fprint writes a file",
      "-fprint0": "find -fprint0 writes a file",
      "-fprintf": "find -fprintf writes a file",
      "-fls": "find -fls writes a file",
      "-files0-from": "find -files0-from reads file names the path policy cannot check",
    },
  },
};

function pipRule(): ProgramRule {
  return {
    syntax: "gnu",
    allowed: [
      "-l",
      "--local",
      "--user",
      "--format",
      "--not-required",
      "-e",
      "--editable",
      "--exclude-editable",
      "--include-editable",
      "-f",
      "--files",
      "-v",
      "--verbose",
      "-q",
      "--quiet",
      "--all",
      "--path",
      "--exclude",
      "-r",
      "--requirement",
      "--no-color",
      "--disable-pip-version-check",
      "--isolated",
      "-V",
      "--version",
      "-h",
      "--help",
    ],
    valueShort: "r",
    valueLong: ["--format", "--path", "--exclude", "--requirement"],
    denied: {
      "-o": `pip list -o queries the package index (${outbound})`,
      "--outdated": `pip list -o queries the package index (${outbound})`,
      "-u": `pip list -u queries the package index (${outbound})`,
      "--uptodate": `pip list -u queries the package index (${outbound})`,
    },
    subcommands: { list: null, show: null, freeze: null },
  };
}

/** Why well-known programs are not on the allowlist; shown after "… is not on the read-only allowlist". */
export const refusedHints: Record<string, string> = {};
for (const [hint, names] of Object.entries({
  "it runs other commands":
    "xargs nohup nice timeout watch strace ltrace setsid chroot exec eval command builtin stdbuf flock runuser unbuffer time parallel script expect",
  "it changes privileges": "sudo su doas pkexec",
  "shells run arbitrary commands": "sh bash dash zsh ksh mksh csh tcsh fish busybox",
  "interpreters run arbitrary code": "python python2 python3 perl ruby node nodejs php lua tclsh gawk mawk nawk",
  "it writes files": "tee dd cp mv ln mkdir rmdir touch truncate install shred rsync tar unzip gzip gunzip",
  "it deletes files": "rm unlink",
  "it changes permissions": "chmod chown chgrp chattr setfacl",
  "it sends signals": "kill pkill killall",
  "editors write files": "vi vim nano emacs ed",
  "package managers change the system": "apt-get aptitude yum dnf zypper snap flatpak",
  "it transfers data over the network": "curl wget nc ncat netcat socat scp sftp ssh telnet ftp",
  "it changes the system":
    "mount umount reboot shutdown halt poweroff init telinit sysctl modprobe insmod rmmod iptables ip6tables nft useradd userdel usermod passwd chpasswd crontab at",
  "it opens a pager, which can run commands": "less more man",
})) {
  for (const name of names.split(" ")) refusedHints[name] = hint;
}

/**
 * Sensitive paths, first match wins; a null reason marks an explicitly readable exception. Globs: `*` is
 * any run of characters within one path segment, `**` any run across segments; everything else is literal.
 */
export const pathRules: { glob: string; reason: string | null }[] = [
  { glob: "/dev/null", reason: null },
  ...["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd"].map((glob) => ({
    glob,
    reason: "it holds password hashes",
  })),
  ...["/etc/sudoers", "/etc/sudoers.d", "/etc/sudoers.d/**"].map((glob) => ({
    glob,
    reason: "it is sudo configuration",
  })),
  { glob: "/root/.ssh", reason: "it holds root's SSH keys" },
  { glob: "/root/.ssh/**", reason: "it holds root's SSH keys" },
  { glob: "/etc/ssh/ssh_host_*_key", reason: "it is an SSH host private key" },
  { glob: "/etc/ssl/private", reason: "it holds TLS private keys" },
  { glob: "/etc/ssl/private/**", reason: "it holds TLS private keys" },
  { glob: "**/.ssh/id_*.pub", reason: null },
  { glob: "**/.ssh/id_*", reason: "it is an SSH private key" },
  ...["*.pub", "authorized_keys", "authorized_keys2", "known_hosts", "known_hosts.old", "config"].map((name) => ({
    glob: `**/.ssh/${name}`,
    reason: null,
  })),
  { glob: "**/.ssh/*", reason: "it may be an SSH private key" },
  ...["**/*_rsa", "**/*_dsa", "**/*_ecdsa", "**/*_ed25519", "**/*.ppk"].map((glob) => ({
    glob,
    reason: "it may be an SSH private key",
  })),
  { glob: "/etc/ssl/certs/**", reason: null },
  { glob: "/usr/share/ca-certificates/**", reason: null },
  { glob: "/usr/local/share/ca-certificates/**", reason: null },
  ...["**/*.pem", "**/*.key", "**/*.p12", "**/*.pfx", "**/*.jks", "**/*.keytab"].map((glob) => ({
    glob,
    reason: "it may hold a private key",
  })),
  ...[
    "**/.aws/credentials",
    "**/.docker/config.json",
    "**/.kube/config",
    "**/.netrc",
    "**/.pgpass",
    "**/.git-credentials",
    "**/.my.cnf",
    "**/.vault-token",
    "/etc/kubernetes/*.conf",
    "/var/lib/kubelet/kubeconfig",
    "/etc/rancher/k3s/k3s.yaml",
    "/etc/mysql/debian.cnf",
  ].map((glob) => ({ glob, reason: "it is a credentials file" })),
  ...["/etc/wireguard", "/etc/wireguard/**"].map((glob) => ({ glob, reason: "it holds WireGuard private keys" })),
  ...["/etc/NetworkManager/system-connections", "/etc/NetworkManager/system-connections/**"].map((glob) => ({
    glob,
    reason: "NetworkManager connections hold Wi-Fi and VPN secrets",
  })),
  ...["**/.gnupg/private-keys-v1.d", "**/.gnupg/private-keys-v1.d/**", "**/.gnupg/secring.gpg"].map((glob) => ({
    glob,
    reason: "it holds GnuPG private keys",
  })),
  ...["/run/secrets", "/run/secrets/**", "/var/run/secrets", "/var/run/secrets/**"].map((glob) => ({
    glob,
    reason: "it holds mounted secrets",
  })),
  { glob: "**/.*_history", reason: "shell history may hold secrets" },
  { glob: "/proc/kcore", reason: "it is kernel memory" },
  ...["/proc/*", "/proc/*/task/*"].flatMap((process) => [
    { glob: `${process}/mem`, reason: "it is process memory" },
    { glob: `${process}/environ`, reason: "process environments hold secrets" },
    ...["root", "cwd", "fd", "map_files"].flatMap((link) => [
      { glob: `${process}/${link}`, reason: "links into another process's files bypass the path policy" },
      { glob: `${process}/${link}/**`, reason: "links into another process's files bypass the path policy" },
    ]),
  ]),
  ...["/dev", "/dev/**"].map((glob) => ({ glob, reason: "device files are not readable" })),
  ...["/sys/firmware", "/sys/firmware/**"].map((glob) => ({ glob, reason: "firmware tables are not readable" })),
  ...["/inet/**", "/inet4/**", "/inet6/**"].map((glob) => ({ glob, reason: "awk network files are not allowed" })),
];

/** A path glob as an anchored regular expression source (shared JS/Perl subset). */
export function globToRegex(glob: string): string {
  let out = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      out += ".*";
      i++;
    } else if (c === "*") out += "[^/]*";
    else if (/[A-Za-z0-9/_-]/.test(c)) out += c;
    else out += `\\${c}`;
  }
  return `${out}$`;
}
