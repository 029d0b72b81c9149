import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    // The server's Content-Security-Policy forbids inline scripts: every script must be a file.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    // `vite dev` talks to a local fluid-server through this proxy, keeping the API same-origin.
    proxy: { "/v1": "http://127.0.0.1:8080" },
  },
});
