import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait (SIGKILL after the grace period). */
  stop(graceMs?: number): Promise<void>;
  /** kill -9, as a crash would. */
  crash(): Promise<void>;
}

/** Starts a program (argument vector, no shell) and resolves once a line of its stdout contains `ready`. */
export async function startUntilReady(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Started> {
  const [file, ...args] = argv;
  if (!file) throw new Error("empty argv");
  const child = spawn(file, args, { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} not ready in time:\n${out.slice(-4000)}`)),
      options.timeoutMs ?? 60_000,
    );
    const check = () => {
      if (
        /ready/.test(
          out
            .split("\n")
            .filter((line) => !line.startsWith("{"))
            .join("\n"),
        )
      ) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited (${code}) before it was ready:\n${out.slice(-4000)}`));
    });
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const crash = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await exited;
  };
  return { child, output: () => out, stop, crash };
}
