// Prints the suite's final line, "N passed, N failed[, N skipped]", from vitest's JSON report.
// A test file that failed without a failed test of its own (it failed to load, or a beforeAll/afterAll
// hook threw) counts as one failure, so the line never says "0 failed" for a failed run.
import { readFileSync } from "node:fs";

const path = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(path, "utf8"));
} catch (err) {
  console.log("0 passed, 1 failed");
  console.error(`no test report at ${path}: ${err.message}`);
  process.exit(1);
}
const brokenFiles = (report.testResults ?? []).filter(
  (file) => file.status === "failed" && !(file.assertionResults ?? []).some((result) => result.status === "failed"),
).length;
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || report.success === false ? 1 : 0);
