import type { HostMessage } from "@fluid/proto";
import { HostCommandError } from "./errors.js";
import type { Command } from "./host-session.js";

type Reply = HostMessage["payload"];
export type ReplyCase = NonNullable<Reply["case"]>;
export type ReplyValue<C extends ReplyCase> = Extract<Reply, { case: C }>["value"];

/** Anything that sends a command and answers with the host's message (a session or the registry). */
export interface CommandTarget {
  request(command: Command, timeoutMs: number): Promise<HostMessage>;
}

export function expectReply<C extends ReplyCase>(reply: HostMessage, kind: C): ReplyValue<C> {
  const payload = reply.payload;
  if (payload.case !== kind) {
    throw new HostCommandError("protocol_error", `expected ${kind}, host sent ${payload.case ?? "nothing"}`);
  }
  return payload.value as ReplyValue<C>;
}

/** Sends one command and returns its reply of the expected kind; failures stay the stream's own errors. */
export async function sendCommand<C extends ReplyCase>(
  target: CommandTarget,
  command: Command,
  reply: C,
  timeoutMs: number,
): Promise<ReplyValue<C>> {
  return expectReply(await target.request(command, timeoutMs), reply);
}
