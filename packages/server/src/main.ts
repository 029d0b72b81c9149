import { ConfigError, loadConfig, usage } from "./config/config.js";
import { createLogger } from "./log/logger.js";
import { quotaCommand } from "./quotas/operator.js";
import { startServer } from "./server.js";

/** `fluid-server`: parse flags and environment, start, and shut down cleanly on SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<void> {
  if (argv[0] === "quota") {
    const io = {
      stdout: (text: string) => process.stdout.write(text),
      stderr: (text: string) => process.stderr.write(text),
    };
    process.exitCode = await quotaCommand(argv.slice(1), process.env, io).catch((err: unknown) => {
      process.stderr.write(`fluid-server quota: ${(err as Error).message}\n`);
      return 1;
    });
    return;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(argv, process.env);
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : `fluid-server: ${(err as Error).message}`;
    process.stderr.write(`${message}\n\nRun fluid-server --help for the options.\n`);
    process.exit(2);
  }
  if ("help" in config) {
    process.stdout.write(usage);
    return;
  }
  const log = createLogger(config.log);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, { log });
  } catch (err) {
    log.fatal({ err }, "fluid-server could not start");
    process.stderr.write(`fluid-server: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const rest = `http://${server.restAddress.address}:${server.restAddress.port}`;
  const grpc = `${server.grpc.address.address}:${server.grpc.address.port}`;
  log.info({ rest, grpc }, "listening");
  process.stdout.write(
    `fluid-server ready: REST ${rest} gRPC ${grpc}${config.grpc.insecure ? " (plaintext)" : " (TLS)"}\n`,
  );

  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
}
