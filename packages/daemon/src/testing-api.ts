/** What @fluid/testkit's test daemon shares with the real one, so both speak the stream the same way. */
export { StreamClient, type StreamClientOptions } from "./stream/client.js";
export { Outbox } from "./stream/outbox.js";
export { parseServerList } from "./stream/server-list.js";
