/** Used when a request leaves a value at zero (the proto3 default). */
export const sandboxDefaults = {
  vcpus: 1,
  memoryMb: 512,
  commandTimeoutSeconds: 300,
} as const;
