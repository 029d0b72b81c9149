/** Used when a request leaves a value at zero (the proto3 default); the same on every entry point. */
export { sandboxDefaults } from "@fluid/proto";
