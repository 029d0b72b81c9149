/**
 * Debian version ordering (Debian Policy §5.6.12), as `dpkg --compare-versions` decides it: epoch
 * numerically, then the upstream version, then the revision. Within those two, runs of non-digits
 * compare character by character (`~` before anything, even the end; letters before other
 * characters) and runs of digits compare as numbers.
 */
export function compareDebianVersions(a: string, b: string): number {
  const left = splitVersion(a);
  const right = splitVersion(b);
  return (
    compareNumbers(left.epoch, right.epoch) ||
    compareParts(left.upstream, right.upstream) ||
    compareParts(left.revision, right.revision)
  );
}

/** An epoch is everything before the first colon; a revision everything after the last hyphen. */
function splitVersion(version: string): { epoch: string; upstream: string; revision: string } {
  const colon = version.indexOf(":");
  const epoch = colon === -1 ? "0" : version.slice(0, colon);
  const rest = version.slice(colon + 1);
  const hyphen = rest.lastIndexOf("-");
  return hyphen === -1
    ? { epoch, upstream: rest, revision: "" }
    : { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

const isDigit = (char: string | undefined) => char !== undefined && char >= "0" && char <= "9";

/** Where a character sorts in a non-digit run; the end of the run sorts as 0. */
function weight(char: string | undefined): number {
  if (char === undefined) return 0;
  if (char === "~") return -1;
  if (/[A-Za-z]/.test(char)) return char.charCodeAt(0);
  return char.charCodeAt(0) + 256;
}

function compareParts(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const aText = runFrom(a, i, false);
    const bText = runFrom(b, j, false);
    for (let k = 0; k < Math.max(aText.length, bText.length); k++) {
      const order = weight(aText[k]) - weight(bText[k]);
      if (order !== 0) return Math.sign(order);
    }
    i += aText.length;
    j += bText.length;
    const aDigits = runFrom(a, i, true);
    const bDigits = runFrom(b, j, true);
    const order = compareNumbers(aDigits, bDigits);
    if (order !== 0) return order;
    i += aDigits.length;
    j += bDigits.length;
  }
  return 0;
}

/** The run of digits (or of non-digits) starting at `start`. */
function runFrom(text: string, start: number, digits: boolean): string {
  let end = start;
  while (end < text.length && isDigit(text[end]) === digits) end++;
  return text.slice(start, end);
}

/** Two digit strings as numbers of any length ("" is 0). */
function compareNumbers(a: string, b: string): number {
  const x = a.replace(/^0+/, "");
  const y = b.replace(/^0+/, "");
  if (x.length !== y.length) return Math.sign(x.length - y.length);
  return x < y ? -1 : x > y ? 1 : 0;
}
