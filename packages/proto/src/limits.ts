/** Resources a sandbox gets when a request leaves them out (or at zero, the proto3 default). */
export const sandboxDefaults = {
  vcpus: 1,
  memoryMb: 512,
  diskMb: 1024,
  commandTimeoutSeconds: 300,
} as const;

/** Bounds on what a request may ask for, the same on the REST API, the daemon's local API and the host stream. */
export const sandboxLimits = {
  minVcpus: 1,
  maxVcpus: 32,
  minMemoryMb: 64,
  maxMemoryMb: 262_144,
  minTtlSeconds: 60,
  maxCommandBytes: 65_536,
  maxCommandTimeoutSeconds: 3600,
  defaultCommandTimeoutSeconds: sandboxDefaults.commandTimeoutSeconds,
  maxEnvVars: 64,
  maxEnvValueBytes: 32_768,
  /** Output kept per stream (stdout, stderr) of one command. */
  maxOutputBytes: 1_048_576,
  /** Files moved through the host stream (its messages are capped at 16 MiB). */
  maxFileBytes: 8 * 1024 * 1024,
  /** A path inside a sandbox, in UTF-8 bytes (Linux's PATH_MAX). */
  maxGuestPathBytes: 4096,
} as const;

/** Bounds on background processes (started in a sandbox, outliving the request), the same everywhere. */
export const processLimits = {
  /** The largest piece of one stream's log handed on by one read. */
  logChunkBytes: 64 * 1024,
  /** Log kept readable per stream of one process; what a process writes past it is not read. */
  maxLogBytes: 64 * 1024 * 1024,
  /** Bytes written to a process's stdin at once (a pipe's buffer). */
  maxInputBytes: 64 * 1024,
  /** Background processes one sandbox keeps; at the cap a start forgets the oldest ended ones, never a running one. */
  maxPerSandbox: 64,
  maxNameLength: 63,
  /** Signals a caller may send, by name without SIG. */
  signals: ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT"],
} as const;

export type ProcessSignal = (typeof processLimits.signals)[number];

/** Bounds on terminals (PTY sessions over WebSocket), the same everywhere. */
export const terminalLimits = {
  /** Terminals open at once in one sandbox: its console ports (the daemon's TERMINAL_PORTS). */
  maxPerSandbox: 4,
  minSize: 1,
  maxSize: 1000,
  /** Bytes of input sent to a terminal in one message. */
  maxInputBytes: 64 * 1024,
} as const;
