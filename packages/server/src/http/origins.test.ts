import { describe, expect, it } from "vitest";
import { listenOrigins, ownOrigin } from "./origins.js";

describe("listenOrigins", () => {
  it("counts a loopback listen under all three loopback names, the listen address first", () => {
    expect(listenOrigins("127.0.0.1", 8080)).toEqual([
      "http://127.0.0.1:8080",
      "http://localhost:8080",
      "http://[::1]:8080",
    ]);
  });

  it("maps a wildcard listen to its family's loopback address and its equivalents", () => {
    expect(listenOrigins("0.0.0.0", 8080)[0]).toBe("http://127.0.0.1:8080");
    expect(listenOrigins("::", 8080)[0]).toBe("http://[::1]:8080");
    expect(listenOrigins("::", 8080)).toHaveLength(3);
  });

  it("counts any other listen address only as itself, brackets around IPv6, default port omitted", () => {
    expect(listenOrigins("10.0.0.5", 8080)).toEqual(["http://10.0.0.5:8080"]);
    expect(listenOrigins("fd00::5", 8080)).toEqual(["http://[fd00::5]:8080"]);
    expect(listenOrigins("Fluid.Internal", 80)).toEqual(["http://fluid.internal"]);
  });
});

describe("ownOrigin", () => {
  it("is the public URL when configured, else the listen address's origin", () => {
    expect(ownOrigin("https://fluid.example", { host: "0.0.0.0", port: 8080 })).toBe("https://fluid.example");
    expect(ownOrigin(undefined, { host: "0.0.0.0", port: 8080 })).toBe("http://127.0.0.1:8080");
  });
});
