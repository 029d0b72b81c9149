/**
 * Dashboard benchmarks (issue 11), each against a reference measured in the same run:
 *   bundle   gzip size of the JavaScript the sign-in page loads, vs React's own runtime (react + react-dom
 *            production builds from node_modules, gzipped the same way): what the dashboard adds
 *   load     headless Chromium, fresh context each time: navigation to the sign-in form being usable
 *            ("Sign in" enabled) from a real fluid-server, vs the same for a one-form page served by a bare
 *            node:http server (what a browser costs before any of ours runs); median of N
 * Usage: node --import tsx bench/web.ts [--runs N]   (after `npm run build`; needs /usr/bin/chromium)
 */

import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { openDatabase } from "../packages/server/src/db/database.ts";
import { createLogger } from "../packages/server/src/log/logger.ts";
import { startServer } from "../packages/server/src/server.ts";
// The config helper alone: the testkit index opens test databases through vitest, which a bench runs without.
import { testConfig } from "../packages/testkit/src/config.ts";

const root = join(import.meta.dirname, "..");
const webDir = join(root, "packages/web/dist");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const gzipped = (bytes: Buffer) => gzipSync(bytes, { level: 9 }).length;

async function bundle() {
  const html = await readFile(join(webDir, "index.html"), "utf8");
  const scripts = [...html.matchAll(/<script[^>]+src="\/([^"]+)"/g)].map((m) => m[1] as string);
  if (scripts.length === 0) throw new Error("no script in packages/web/dist/index.html: run npm run build");
  let raw = 0;
  let gz = 0;
  for (const script of scripts) {
    const bytes = await readFile(join(webDir, script));
    raw += bytes.length;
    gz += gzipped(bytes);
  }
  const react = Buffer.concat([
    await readFile(join(root, "node_modules/react/cjs/react.production.js")),
    await readFile(join(root, "node_modules/react-dom/cjs/react-dom.production.js")),
    await readFile(join(root, "node_modules/react-dom/cjs/react-dom-client.production.js")),
  ]);
  return { raw, gz, reactGz: gzipped(react) };
}

const REFERENCE_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>ref</title></head><body>
<form><label>Email <input name="email"></label><label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form></body></html>`;

async function load() {
  const config = testConfig({ migrate: true, log: { level: "silent" }, webDir });
  const database = await openDatabase({ kind: "pglite", dataDir: "memory://" });
  const server = await startServer(config, { log: createLogger(config.log), database });
  const reference = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "text/html" }).end(REFERENCE_PAGE),
  );
  await new Promise<void>((resolve) => reference.listen(0, "127.0.0.1", resolve));
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
  const timeTo = async (url: string) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(url);
    await page.getByRole("button", { name: "Sign in" }).waitFor({ state: "visible" });
    const ms = performance.now() - started;
    await context.close();
    return ms;
  };
  const fluidUrl = `http://127.0.0.1:${server.restAddress.port}/`;
  const referenceUrl = `http://127.0.0.1:${(reference.address() as AddressInfo).port}/`;
  const fluid: number[] = [];
  const bare: number[] = [];
  try {
    await timeTo(fluidUrl);
    await timeTo(referenceUrl);
    for (let i = 0; i < runs; i++) {
      // Alternated, so a slow moment of the machine falls on both.
      fluid.push(await timeTo(fluidUrl));
      bare.push(await timeTo(referenceUrl));
    }
  } finally {
    await browser.close();
    reference.close();
    await server.close();
  }
  return { fluid: median(fluid), bare: median(bare) };
}

const b = await bundle();
console.log(
  `bundle: initial JS ${(b.raw / 1024).toFixed(1)} KiB, ${(b.gz / 1024).toFixed(1)} KiB gzip; ` +
    `React's runtime ${(b.reactGz / 1024).toFixed(1)} KiB gzip; ratio ${(b.gz / b.reactGz).toFixed(2)}`,
);
const l = await load();
console.log(
  `load: sign-in usable after ${l.fluid.toFixed(0)} ms (median of ${runs}); bare one-form page ${l.bare.toFixed(0)} ms; ` +
    `ratio ${(l.fluid / l.bare).toFixed(2)}`,
);
