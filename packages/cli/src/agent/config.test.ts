import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readSettings, writeSettings } from "../config/settings.js";
import { CliError } from "../output.js";
import { DEFAULT_BASE_URL, resolveAgentConfig } from "./config.js";

describe("resolveAgentConfig", () => {
  const saved = { baseUrl: "http://saved.example/v1", model: "saved/model", apiKey: "sk-saved" };

  it("takes flags over FLUID_AGENT_* over the saved settings", () => {
    const env = { FLUID_AGENT_BASE_URL: "http://env.example/v1", FLUID_AGENT_MODEL: "env/model" };
    expect(resolveAgentConfig({ baseUrl: "http://flag.example/v1", model: "flag/model" }, env, saved)).toEqual({
      baseUrl: "http://flag.example/v1",
      model: "flag/model",
      apiKey: "sk-saved",
    });
    expect(resolveAgentConfig({}, env, saved)).toMatchObject({ baseUrl: "http://env.example/v1", model: "env/model" });
    expect(resolveAgentConfig({}, {}, saved)).toEqual(saved);
  });

  it("uses OpenRouter when no base URL is given", () => {
    expect(resolveAgentConfig({ model: "m" }, { FLUID_AGENT_API_KEY: "k" }, undefined).baseUrl).toBe(DEFAULT_BASE_URL);
    expect(DEFAULT_BASE_URL).toBe("https://openrouter.ai/api/v1");
  });

  it("takes the key from FLUID_AGENT_API_KEY, then the saved settings, then OPENAI_API_KEY", () => {
    const all = { FLUID_AGENT_API_KEY: "sk-fluid", OPENAI_API_KEY: "sk-openai" };
    expect(resolveAgentConfig({}, all, saved).apiKey).toBe("sk-fluid");
    expect(resolveAgentConfig({}, { OPENAI_API_KEY: "sk-openai" }, saved).apiKey).toBe("sk-saved");
    expect(resolveAgentConfig({ model: "m" }, { OPENAI_API_KEY: "sk-openai" }, undefined).apiKey).toBe("sk-openai");
  });

  it("says what is missing", () => {
    const noModel = () => resolveAgentConfig({}, { FLUID_AGENT_API_KEY: "k" }, undefined);
    expect(noModel).toThrow(CliError);
    expect(noModel).toThrow("no model chosen: pass --model or set FLUID_AGENT_MODEL");
    expect(() => resolveAgentConfig({ model: "m" }, {}, undefined)).toThrow(
      `no API key for the model provider at ${DEFAULT_BASE_URL}: set FLUID_AGENT_API_KEY (or OPENAI_API_KEY)`,
    );
    expect(() =>
      resolveAgentConfig({ baseUrl: "openrouter.ai", model: "m" }, { OPENAI_API_KEY: "k" }, undefined),
    ).toThrow(`the model provider's base URL must be an http(s) URL, got "openrouter.ai"`);
  });
});

describe("agent settings in the config file", () => {
  it("reads configs written before the agent settings existed, and keeps the agent object 0600", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fluid-agent-config-"));
    try {
      const path = join(dir, "fluid", "config.json");
      await writeSettings({ server: "http://127.0.0.1:8080", apiKey: "fl_x" }, path);
      expect(await readSettings(path)).toEqual({ server: "http://127.0.0.1:8080", apiKey: "fl_x" });

      const agent = { baseUrl: "https://openrouter.ai/api/v1", model: "m", apiKey: "sk-x" };
      await writeSettings({ server: "http://127.0.0.1:8080", apiKey: "fl_x", agent }, path);
      expect((await readSettings(path))?.agent).toEqual(agent);
      expect((await stat(path)).mode & 0o777).toBe(0o600);

      await writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(path, "utf8")), agent: { baseUrl: "x" } }));
      await expect(readSettings(path)).rejects.toMatchObject({ code: "invalid_config" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
