/** A valid image manifest (as `fluid-daemon images build` writes it) named `name`; `extra` overrides or adds fields. */
export const imageManifest = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  recipe: "tiny",
  recipeHash: "a".repeat(64),
  kernel: "vmlinux",
  initrd: "initramfs.cpio",
  disk: "rootfs.qcow2",
  rootDevice: "/dev/vda",
  kernelVersion: "6.1.0-56-amd64",
  sshd: false,
  agent: "qga",
  sizeBytes: 1234,
  builtAt: "2026-11-28T12:00:00.000Z",
  ...extra,
});
