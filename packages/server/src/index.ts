export { buildApp } from "./app.js";
export { ConfigError, loadConfig, type ServerConfig } from "./config/config.js";
export { type RunningServer, startServer } from "./server.js";
