import { describe, expect, it } from "vitest";
import { endpointUrl, expandServers, parseServerList, pinnedLookup, type Resolver } from "./server-list.js";

describe("parseServerList", () => {
  it("keeps the single-address form", () => {
    expect(parseServerList("127.0.0.1:50051")).toEqual([{ host: "127.0.0.1", port: 50051, entry: "127.0.0.1:50051" }]);
  });

  it("reads several entries in order: names, IPv4 and bracketed IPv6, spaces trimmed", () => {
    expect(parseServerList("cp-a.example.com:443, 10.0.0.2:50051,[::1]:7000")).toEqual([
      { host: "cp-a.example.com", port: 443, entry: "cp-a.example.com:443" },
      { host: "10.0.0.2", port: 50051, entry: "10.0.0.2:50051" },
      { host: "::1", port: 7000, entry: "[::1]:7000" },
    ]);
  });

  it.each([
    ["", "an entry is empty"],
    ["a:1,,b:2", "an entry is empty"],
    ["a:1,", "an entry is empty"],
    ["cp.example.com", '"cp.example.com" has no port (HOST:PORT)'],
    ["cp:", '"cp:" has no port'],
    ["[::1]", '"[::1]" has no port'],
    ["cp:0", "port must be a number from 1 to 65535"],
    ["cp:65536", "port must be a number from 1 to 65535"],
    ["cp:http", "port must be a number from 1 to 65535"],
    ["cp:-1", "port must be a number from 1 to 65535"],
    ["::1:50051", "write an IPv6 address in brackets"],
    ["[cp.example]:1", "is not an IPv6 address"],
    ["https://cp:443", "has a scheme"],
    ["bad_host!:1", "is not a host name or IP address"],
    ["a:1,A:1", '"A:1" is listed twice'],
    ["[::1]:5,[::1]:5", '"[::1]:5" is listed twice'],
  ])("refuses %j", (value, message) => {
    expect(() => parseServerList(value)).toThrow(message);
  });

  it("names the flag and reports every bad entry at once", () => {
    expect(() => parseServerList("a,b:0,c:1")).toThrow(
      '--server: "a" has no port (HOST:PORT); "b:0": port must be a number from 1 to 65535',
    );
  });

  it("lets the same host appear on different ports", () => {
    expect(parseServerList("cp:1,cp:2")).toHaveLength(2);
  });
});

describe("expandServers", () => {
  const names: Record<string, Array<{ address: string; family: number }>> = {
    "cp.example": [
      { address: "10.0.0.1", family: 4 },
      { address: "fd00::1", family: 6 },
    ],
    "cp2.example": [
      { address: "10.0.0.2", family: 4 },
      { address: "10.0.0.1", family: 4 },
    ],
  };
  const resolve: Resolver = async (host) => {
    const found = names[host];
    if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
    return found;
  };

  it("expands each name to all its IPv4 and IPv6 addresses, in order, each address once", async () => {
    const unresolved: string[] = [];
    const endpoints = await expandServers(parseServerList("cp.example:1,cp2.example:1,[::1]:2"), resolve, (s) =>
      unresolved.push(s.entry),
    );
    expect(endpoints.map((e) => [e.server.entry, e.address, e.family])).toEqual([
      ["cp.example:1", "10.0.0.1", 4],
      ["cp.example:1", "fd00::1", 6],
      ["cp2.example:1", "10.0.0.2", 4],
      ["[::1]:2", "::1", 6],
    ]);
    expect(unresolved).toEqual([]);
  });

  it("skips a name that does not resolve and reports it", async () => {
    const unresolved: string[] = [];
    const endpoints = await expandServers(parseServerList("gone.example:1,10.9.9.9:2"), resolve, (s, err) =>
      unresolved.push(`${s.entry} ${String(err)}`),
    );
    expect(endpoints.map((e) => e.address)).toEqual(["10.9.9.9"]);
    expect(unresolved).toEqual(["gone.example:1 Error: getaddrinfo ENOTFOUND gone.example"]);
  });

  it("keeps the entry's name in the URL and pins the socket to the resolved address", async () => {
    const [v4, v6] = await expandServers(parseServerList("cp.example:443"), resolve, () => undefined);
    if (!v4 || !v6) throw new Error("expected two endpoints");
    expect(endpointUrl(v4, true)).toBe("https://cp.example:443");
    expect(endpointUrl(v6, false)).toBe("http://cp.example:443");
    const [literal] = await expandServers(parseServerList("[::1]:443"), resolve, () => undefined);
    expect(literal && endpointUrl(literal, true)).toBe("https://[::1]:443");

    const answers: unknown[] = [];
    const lookup = pinnedLookup(v6);
    lookup("cp.example", { all: true }, (err, address) => answers.push([err, address]));
    lookup("cp.example", {}, (err, address, family) => answers.push([err, address, family]));
    expect(answers).toEqual([
      [null, [{ address: "fd00::1", family: 6 }]],
      [null, "fd00::1", 6],
    ]);
  });
});
