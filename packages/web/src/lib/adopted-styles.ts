/**
 * The dashboard's Content-Security-Policy (`style-src 'self'`) blocks `<style>` elements, and
 * xterm.js's renderer writes its cell sizes and colours into such elements. Constructed style
 * sheets are CSSOM, which CSP allows: this mirrors every `<style>` under `root` into one, kept
 * in step as the library rewrites them. Returns the function that stops and drops the sheets.
 */
export function mirrorStyleElements(root: HTMLElement, doc: Document = root.ownerDocument): () => void {
  const sheets = new Map<HTMLStyleElement, CSSStyleSheet>();

  const sync = () => {
    const present = new Set(root.querySelectorAll("style"));
    for (const [element, sheet] of sheets) {
      if (!present.has(element)) {
        sheets.delete(element);
        doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
      }
    }
    for (const element of present) {
      let sheet = sheets.get(element);
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheets.set(element, sheet);
        doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
      }
      sheet.replaceSync(element.textContent ?? "");
    }
  };

  const touchesStyle = (node: Node | null) =>
    node !== null && (node.nodeName === "STYLE" || node.parentNode?.nodeName === "STYLE");
  const observer = new MutationObserver((mutations) => {
    const relevant = mutations.some(
      (m) =>
        touchesStyle(m.target) ||
        [...m.addedNodes].some((n) => touchesStyle(n)) ||
        [...m.removedNodes].some((n) => n.nodeName === "STYLE"),
    );
    if (relevant) sync();
  });
  observer.observe(root, { childList: true, subtree: true, characterData: true });
  sync();

  return () => {
    observer.disconnect();
    const mine = new Set(sheets.values());
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => !mine.has(s));
    sheets.clear();
  };
}
