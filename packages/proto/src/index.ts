// The wire protocol, generated from proto/fluid/v1 by `npm run generate` (buf + protoc-gen-es).

// The contract shared by server, daemon, SDK and CLI beyond the messages.
export * from "./errors.js";
export * from "./gen/fluid/v1/daemon_pb.js";
export * from "./gen/fluid/v1/host_pb.js";
export * from "./gen/fluid/v1/sandbox_pb.js";
export * from "./gen/fluid/v1/source_pb.js";
export * from "./gen/fluid/v1/stream_pb.js";
export * from "./limits.js";
