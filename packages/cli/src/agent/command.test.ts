import { describe, expect, it } from "vitest";
import { runFluid } from "../testing.js";

// A config path that does not exist, so a login on the machine running the tests cannot leak in.
const base = { FLUID_CONFIG: "/nonexistent/fluid/config.json" };

describe("fluid agent", () => {
  it("documents its flags and where the key comes from", async () => {
    const result = await runFluid(["agent", "--help"], { env: base });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: fluid agent [options]");
    for (const flag of ["--base-url <url>", "--model <name>", "--read-only"]) expect(result.stdout).toContain(flag);
    expect(result.stdout).toContain("FLUID_AGENT_API_KEY");
  });

  it("says what is missing, without a stack trace", async () => {
    const noModel = await runFluid(["agent"], { env: { ...base, FLUID_AGENT_API_KEY: "sk-x" } });
    expect(noModel).toMatchObject({ code: 2, stdout: "" });
    expect(noModel.stderr).toBe(
      "fluid: no model chosen: pass --model or set FLUID_AGENT_MODEL (e.g. anthropic/claude-sonnet-4.5)\n",
    );
    const noKey = await runFluid(["agent", "--model", "m"], { env: base });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toBe(
      "fluid: no API key for the model provider at https://openrouter.ai/api/v1: set FLUID_AGENT_API_KEY (or OPENAI_API_KEY)\n",
    );
    const json = await runFluid(["--json", "agent", "--model", "m"], { env: base });
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "agent_not_configured" } });
  });

  it("refuses to run without an interactive terminal", async () => {
    const result = await runFluid(["agent", "--model", "m"], { env: { ...base, OPENAI_API_KEY: "sk-x" } });
    expect(result).toMatchObject({ code: 2, stderr: "fluid: fluid agent needs an interactive terminal\n" });
  });
});
