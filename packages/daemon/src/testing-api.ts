/** What @fluid/testkit's test daemon shares with the real one, so both speak the stream the same way. */
export { Outbox } from "./stream/outbox.js";
