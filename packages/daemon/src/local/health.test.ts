import pino from "pino";
import { describe, expect, it } from "vitest";
import type { ImageSource } from "../images/source.js";
import type { SandboxManager } from "../sandboxes/manager.js";
import { buildLocalApi } from "./api.js";

// The probes read neither sandboxes nor images.
const unused = {} as SandboxManager & ImageSource;

describe("the daemon's /livez and /readyz", () => {
  it("ready only while registered with the control plane; alive throughout", async () => {
    let registered = false;
    const app = buildLocalApi({
      manager: unused,
      images: unused,
      log: pino({ level: "silent" }),
      controlPlane: { registered: () => registered },
    });
    try {
      const get = async (url: string) => {
        const res = await app.inject({ method: "GET", url });
        return { status: res.statusCode, body: res.json() };
      };
      expect(await get("/livez")).toEqual({ status: 200, body: { status: "ok" } });
      expect(await get("/readyz")).toEqual({
        status: 503,
        body: {
          status: "not_ready",
          checks: { control_plane: { ok: false, error: "not registered with a control plane" } },
        },
      });
      registered = true;
      expect(await get("/readyz")).toEqual({
        status: 200,
        body: { status: "ready", checks: { control_plane: { ok: true } } },
      });
      registered = false;
      expect((await get("/readyz")).status).toBe(503);
      expect((await get("/livez")).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("standalone (no control plane to register with) is ready", async () => {
    const app = buildLocalApi({ manager: unused, images: unused, log: pino({ level: "silent" }) });
    try {
      const res = await app.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
