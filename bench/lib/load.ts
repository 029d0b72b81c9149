import { once } from "node:events";
import { Worker } from "node:worker_threads";

const LOAD_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { Agent, request } = require("node:http");
const { urls, headers, seconds, concurrency } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const deadline = Date.now() + seconds * 1000;
let done = 0;
const one = (url) => new Promise((resolve, reject) => {
  const req = request(url, { agent, headers }, (res) => {
    if (res.statusCode !== 200) reject(new Error("HTTP " + res.statusCode));
    res.resume();
    res.on("end", resolve);
  });
  req.on("error", reject);
  req.end();
});
const worker = async (i) => { const url = urls[i % urls.length]; while (Date.now() < deadline) { await one(url); done++; } };
Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i))).then(
  () => parentPort.postMessage(done),
  (err) => parentPort.postMessage(String(err)),
);
`;

/**
 * Requests per second for GET with `concurrency` keep-alive connections over `seconds`, connection i
 * sending to urls[i mod n] (a connection-level load balancer over replicas). The load runs in a worker
 * thread so it does not share an in-process server's event loop.
 */
export async function throughput(
  urls: string[],
  headers: Record<string, string>,
  seconds = 5,
  concurrency = 16,
): Promise<number> {
  const worker = new Worker(LOAD_WORKER, { eval: true, workerData: { urls, headers, seconds, concurrency } });
  const [done] = (await once(worker, "message")) as [number | string];
  await worker.terminate();
  if (typeof done === "string") throw new Error(done);
  return done / seconds;
}
