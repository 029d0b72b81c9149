import { describe, expect, it } from "vitest";
import { answer, query } from "../testing/dns-messages.js";
import { answerAddresses, errorReply, parseQuery, RCODE_REFUSED, readName } from "./dns-message.js";

describe("parseQuery", () => {
  it("reads the id, lowercased name and type of a standard query", () => {
    const question = parseQuery(query("Deb.Debian.ORG", 0xbeef, 28));
    expect(question).toMatchObject({ id: 0xbeef, name: "deb.debian.org", type: 28 });
  });

  it("rejects responses, truncated messages and labels that would read as another name", () => {
    expect(() => parseQuery(answer(query("a.example.com"), []))).toThrow(/not a query/);
    expect(() => parseQuery(query("a.example.com").subarray(0, 20))).toThrow(/truncated/);
    expect(() => parseQuery(query("evil.com\x00.example.com"))).toThrow(/label/);
    const dotted = query("x.example.com");
    dotted[12] = 9;
    dotted.write("x.example", 13, "latin1");
    expect(() => parseQuery(dotted)).toThrow();
  });

  it("refuses a name pointer that does not point backwards (a loop)", () => {
    const message = Buffer.concat([query("a.b"), Buffer.from([0xc0, 21])]);
    expect(() => readName(message, message.length - 2)).toThrow(/backwards/);
  });
});

describe("errorReply", () => {
  it("answers with the query's id and question, no records, and the response code", () => {
    const request = query("blocked.example.com", 0x4242);
    const reply = errorReply(request, parseQuery(request), RCODE_REFUSED);
    expect(reply.readUInt16BE(0)).toBe(0x4242);
    expect(reply.readUInt16BE(2) & 0x800f).toBe(0x8005);
    expect(reply.readUInt16BE(6)).toBe(0);
    expect(reply.subarray(12)).toEqual(request.subarray(12));
  });
});

describe("answerAddresses", () => {
  it("collects A records of the answer section, following name compression", () => {
    expect(answerAddresses(answer(query("a.example.com"), ["192.0.2.1", "192.0.2.2"], 42))).toEqual([
      { address: "192.0.2.1", ttl: 42 },
      { address: "192.0.2.2", ttl: 42 },
    ]);
  });

  it("skips records of other types (a CNAME before the A record of its target)", () => {
    const base = answer(query("www.example.com"), ["198.51.100.4"]);
    const cname = Buffer.from([0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 0x10]);
    const message = Buffer.concat([base.subarray(0, 33), cname, base.subarray(33)]);
    message.writeUInt16BE(2, 6);
    expect(answerAddresses(message)).toEqual([{ address: "198.51.100.4", ttl: 60 }]);
  });

  it("rejects a truncated answer", () => {
    const message = answer(query("a.example.com"), ["192.0.2.1"]);
    expect(() => answerAddresses(message.subarray(0, message.length - 2))).toThrow(/truncated/);
  });
});
