import { describe, expect, it } from "vitest";
import type { ProcessView } from "../sandboxes/processes.js";
import { endEvent } from "./process-methods.js";

const ended = (exit_code: number | null, state: ProcessView["state"] = "exited"): ProcessView => ({
  id: "p",
  name: "e2b",
  command: "sleep 1",
  pid: 42,
  state,
  exit_code,
  started_at: "2026-01-01T00:00:00.000Z",
  ended_at: "2026-01-01T00:00:01.000Z",
});

describe("envd end events of fluid processes", () => {
  it("reports an ordinary exit as exited with its status", () => {
    expect(endEvent(ended(3), null)).toEqual({ exitCode: 3, exited: true, status: "exit status 3" });
  });

  it("reports the exit the SendSignal it was sent caused as envd reports a killed process", () => {
    expect(endEvent(ended(137), "KILL")).toEqual({ exitCode: -1, exited: false, status: "signal: killed" });
    expect(endEvent(ended(143), "TERM")).toEqual({ exitCode: -1, exited: false, status: "signal: terminated" });
  });

  it("keeps a 128+N exit the process chose itself when no such signal was sent", () => {
    expect(endEvent(ended(137), null)).toEqual({ exitCode: 137, exited: true, status: "exit status 137" });
    expect(endEvent(ended(137), "TERM")).toMatchObject({ exitCode: 137, exited: true });
  });

  it("reports a process the guest lost as not exited, with an error", () => {
    expect(endEvent(ended(null, "lost"), null)).toMatchObject({ exitCode: -1, exited: false, status: "lost" });
  });
});
