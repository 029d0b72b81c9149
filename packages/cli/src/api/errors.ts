/**
 * The SDK's typed errors, for commands and MCP tools that tell one failure from another. They come through
 * the API layer because commands and tools import nothing from the SDK but types (scripts/structure.ts).
 */
export { FluidError, fluidError, NoCapacityError } from "@fluid/sdk";
