import { describe, expect, it } from "vitest";
import { databaseErrorFields, isDatabaseUnavailable } from "./unavailable.js";

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("isDatabaseUnavailable", () => {
  it("recognises a database that is down, restarting or dropped the link", () => {
    for (const err of [
      coded("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED"),
      coded("terminating connection due to administrator command", "57P01"),
      coded("the database system is starting up", "57P03"),
      coded("connection failure", "08006"),
      new Error("Connection terminated unexpectedly"),
      new Error("timeout exceeded when trying to connect"),
      new AggregateError([coded("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")], ""),
    ]) {
      expect(isDatabaseUnavailable(err), err.message).toBe(true);
    }
  });

  it("leaves query errors and anything else alone", () => {
    for (const err of [
      coded('relation "nope" does not exist', "42P01"),
      coded("duplicate key value violates unique constraint", "23505"),
      new Error("boom"),
      "ECONNREFUSED",
      undefined,
    ]) {
      expect(isDatabaseUnavailable(err)).toBe(false);
    }
  });
});

describe("databaseErrorFields", () => {
  it("keeps the message and code, never the client node-postgres attaches", () => {
    const err = Object.assign(coded("terminating connection due to administrator command", "57P01"), {
      client: { connectionParameters: { user: "fluid", host: "db" } },
    });
    expect(databaseErrorFields(err)).toEqual({
      message: "terminating connection due to administrator command",
      code: "57P01",
    });
    expect(databaseErrorFields(new Error("Connection terminated unexpectedly"))).toEqual({
      message: "Connection terminated unexpectedly",
    });
  });
});
