/** One measured figure against its reference: value, reference, their ratio, and whether the target is met. */
export type ResultRow = [metric: string, value: string, reference: string, ratio: string, met: string];

/** Prints a bench's results as the aligned table every control-plane bench uses. */
export function printResults(title: string, rows: ResultRow[]): void {
  console.log(title);
  console.log(["metric".padEnd(42), "value".padEnd(22), "reference".padEnd(14), "ratio".padEnd(8), "met"].join(" "));
  for (const [name, value, reference, ratio, met] of rows) {
    console.log([name.padEnd(42), value.padEnd(22), reference.padEnd(14), ratio.padEnd(8), met].join(" "));
  }
}
