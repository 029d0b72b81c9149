import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach } from "vitest";

/** Where a component test renders: an element in the document and a React root over it. */
export interface Mounted {
  container: HTMLElement;
  root: Root;
}

/**
 * Registers hooks giving each test a fresh element in the document with a React root over it, unmounted
 * and removed after the test. The fields are replaced before every test, so read them inside tests only.
 */
export function useMountedRoot(): Mounted {
  const mounted = {} as Mounted;
  beforeEach(() => {
    // Tells React this is a test environment, so act() flushes updates and effects synchronously.
    (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
    mounted.container = document.createElement("div");
    document.body.append(mounted.container);
    mounted.root = createRoot(mounted.container);
  });
  afterEach(() => {
    act(() => mounted.root.unmount());
    mounted.container.remove();
  });
  return mounted;
}
