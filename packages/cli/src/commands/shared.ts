import { type Command, InvalidArgumentError } from "commander";
import ora from "ora";
import { type Connection, connect } from "../connection.js";
import { parseDuration } from "../durations.js";

/** The options every command inherits from `fluid` itself. */
export interface GlobalOptions {
  server?: string;
  apiKey?: string;
  org?: string;
  json?: boolean;
}

export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function connectFor(command: Command): Promise<Connection> {
  const { server, apiKey, org } = globals(command);
  return connect({ server, apiKey, org });
}

/** Prints `data` as one JSON document under --json, otherwise what `human` renders. */
export function emit(command: Command, data: unknown, human: () => string): void {
  if (globals(command).json) printJson(data);
  else process.stdout.write(human());
}

export function printJson(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

/**
 * Runs long work under a spinner on stderr (none under --json, whose stdout is one document). On
 * failure the spinner is cleared without a message of its own: main prints the error once.
 */
export async function withSpinner<T>(
  command: Command,
  text: string,
  work: (update: (text: string) => void) => Promise<T>,
  done: (result: T) => string,
): Promise<T> {
  if (globals(command).json) return work(() => undefined);
  const spinner = ora({ text, stream: process.stderr }).start();
  try {
    const result = await work((next) => {
      spinner.text = next;
    });
    spinner.succeed(done(result));
    return result;
  } catch (err) {
    spinner.stop();
    throw err;
  }
}

/** Ids are UUIDs; anything else a command is given is looked up by name. */
export function isUuid(text: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text);
}

/** Option parser for whole numbers ≥ 1 (commander reports the error as a usage error). */
/** A repeatable option's values, in the order given. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("must be a whole number of at least 1");
  }
  return n;
}

/** Option parser for --ttl and --timeout: "90", "90s", "30m", "2h", "1d" → seconds. */
export function duration(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined) {
    throw new InvalidArgumentError("must be a duration like 90s, 30m, 2h or 1d (a bare number is seconds)");
  }
  return seconds;
}
