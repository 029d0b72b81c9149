// Prints the suite's final line, "N passed, N failed[, N skipped]", from vitest's JSON report.
// A test file that failed to load counts as a failure even though it ran no tests.
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
  (file) => file.status === "failed" && (file.assertionResults ?? []).length === 0,
).length;
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || report.success === false ? 1 : 0);
