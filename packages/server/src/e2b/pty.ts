import { terminalLimits } from "@fluid/proto";
import { z } from "zod";
import type { OrgScope } from "../orgs/access.js";
import type { SandboxService } from "../sandboxes/service.js";
import type { TerminalLink } from "../sandboxes/terminal-link.js";
import type { ConnectStream } from "./connect.js";
import { notSupported } from "./errors.js";
import { parse } from "./parse.js";

const Size = z.number().int().min(terminalLimits.minSize).max(terminalLimits.maxSize);
const Pty = z.looseObject({ size: z.looseObject({ cols: Size, rows: Size }).optional() });
const Selector = z.looseObject({ pid: z.number().int().positive() });

const PtyStart = z.looseObject({
  process: z.looseObject({
    cmd: z.string(),
    args: z.array(z.string()).default([]),
    envs: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
  }),
  pty: Pty,
});
const SendInput = z.looseObject({ process: Selector, input: z.looseObject({ pty: z.string().optional() }) });
const Update = z.looseObject({ process: Selector, pty: Pty.optional() });
const SendSignal = z.looseObject({ process: Selector, signal: z.string().optional() });

/** What E2B's `pty.create` asks for: a login shell, which is what a fluid terminal runs. */
const shells = new Set(["/bin/bash", "/bin/sh", "bash", "sh"]);
const shellFlags = new Set(["-i", "-l", "--login"]);

interface OpenPty {
  link: TerminalLink;
  /** Ends the Start stream (the terminal's watcher hears nothing once it is closed from here). */
  end(): void;
}

/** Terminal settings a fluid terminal already has (TERM=xterm-256color, a UTF-8 locale). */
const terminalEnvs = new Set(["TERM", "LANG", "LC_ALL"]);

/** The PTYs this replica relays, by org, sandbox and the pid envd callers know them by. */
const open = new Map<string, OpenPty>();
const key = (scope: OrgScope, id: string, pid: number) => `${scope.orgId}/${id}/${pid}`;

/** PTY pids are numbered apart from commands' so that one selector never means both. */
let lastPid = 1_000_000;
function nextPid(): number {
  lastPid = lastPid >= 0x7fffffff ? 1_000_001 : lastPid + 1;
  return lastPid;
}

/** How often a PTY whose client may have gone is checked (the stream gives no event for it). */
const CLIENT_CHECK_MS = 1_000;

export const isPtyStart = (body: unknown) =>
  typeof body === "object" && body !== null && (body as { pty?: unknown }).pty != null;

/**
 * `process.Process/Start` with `pty`: a fluid terminal (a login shell on a console port), its
 * output sent as `data.pty`, ending when the shell exits or is killed. A client that goes away
 * hangs the terminal up: fluid cannot reattach one (`Connect` is not offered).
 */
export async function startPty(
  sandboxes: SandboxService,
  scope: OrgScope,
  id: string,
  body: unknown,
  stream: ConnectStream,
): Promise<void> {
  const request = parse(PtyStart, body, "request");
  const { cmd, args, envs, cwd } = request.process;
  if (!shells.has(cmd) || !args.every((arg) => shellFlags.has(arg))) {
    throw notSupported("a pty running anything but the login shell");
  }
  if (cwd) throw notSupported("cwd for a pty (the login shell starts in its home)");
  if (Object.keys(envs).some((name) => !terminalEnvs.has(name)))
    throw notSupported("envs for a pty other than TERM, LANG and LC_ALL");
  const size = request.pty.size ?? { cols: 80, rows: 24 };
  let ended!: () => void;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const link = await sandboxes.openTerminal(scope, id, size, {
    output: (data) => stream.send({ event: { data: { pty: Buffer.from(data).toString("base64") } } }),
    closed: () => ended(),
  });
  const pid = nextPid();
  const entry: OpenPty = { link, end: () => ended() };
  open.set(key(scope, id, pid), entry);
  const watch = setInterval(() => {
    if (stream.closed) void hangUp(entry);
  }, CLIENT_CHECK_MS);
  try {
    stream.send({ event: { start: { pid } } });
    await done;
  } finally {
    clearInterval(watch);
    open.delete(key(scope, id, pid));
  }
  stream.send({ event: { end: { exitCode: 0, exited: true, status: "exit status 0" } } });
}

async function hangUp(entry: OpenPty): Promise<void> {
  try {
    await entry.link.close();
  } finally {
    entry.end();
  }
}

type PtyMethod = (entry: OpenPty, body: unknown) => Promise<void>;

/** The unary `process.Process` methods on a PTY: keystrokes, a resize, and kill (any signal hangs it up). */
const methods: Record<string, PtyMethod> = {
  SendInput: async (entry, body) => {
    const request = parse(SendInput, body, "request");
    if (request.input.pty === undefined) throw notSupported("stdin for a pty (send input.pty)");
    await entry.link.write(Buffer.from(request.input.pty, "base64"));
  },
  Update: async (entry, body) => {
    const request = parse(Update, body, "request");
    if (request.pty?.size) await entry.link.resize(request.pty.size.cols, request.pty.size.rows);
  },
  SendSignal: async (entry, body) => {
    parse(SendSignal, body, "request");
    await hangUp(entry);
  },
};

/**
 * Answers a unary `process.Process` call aimed at one of this replica's PTYs; undefined when the
 * call is not about a PTY (its pid is a command's), for the command handlers to take.
 */
export async function ptyCall(
  method: string,
  scope: OrgScope,
  id: string,
  body: unknown,
): Promise<Record<string, never> | undefined> {
  const handler = methods[method];
  const pid = Selector.safeParse((body as { process?: unknown } | null)?.process).data?.pid;
  const entry = pid === undefined ? undefined : open.get(key(scope, id, pid));
  if (!handler || !entry) return undefined;
  await handler(entry, body);
  return {};
}
