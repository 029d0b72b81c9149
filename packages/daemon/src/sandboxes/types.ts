import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { ImageSource } from "../images/source.js";
import type { SandboxObserver } from "../metrics/metrics.js";
import type { SshCertificateAuthority } from "../remote/ssh-certificates.js";
import type { DaemonDB, SandboxRow, SandboxState } from "../state/schema.js";
import type { Accel } from "../vm/accel.js";
import type { SandboxNetwork } from "./ports.js";
import type { VmControl } from "./vm-control.js";

export interface CreateInput {
  id?: string | undefined;
  name?: string | undefined;
  image: string;
  vcpus: number;
  memoryMb: number;
  /** Lease end (epoch ms); the janitor destroys the sandbox then. */
  expiresAt?: number | undefined;
  allowEgress: boolean;
  /** What the sandbox may reach from its first boot (see network/egress.ts); allowEgress wins. */
  egressAllow?: readonly string[] | undefined;
  agentId?: string | undefined;
  /** A warm pool entry (or its template): hidden from listings and reports until a create claims it. */
  pooled?: boolean | undefined;
  /** Sandboxes of one peer group may reach each other on the bridge; without one, no other sandbox. */
  peerGroup?: string | undefined;
}

export interface ExecInput {
  command: string;
  env?: Record<string, string> | undefined;
  timeoutSeconds: number;
  stdin?: Buffer | undefined;
}

/** Something the control plane should hear about without having asked (lease expiry, crash). */
export interface SandboxEvent {
  sandboxId: string;
  previousState: SandboxState;
  newState: SandboxState;
  reason: string;
}

export interface ManagerOptions {
  db: Kysely<DaemonDB>;
  images: ImageSource;
  network: SandboxNetwork;
  log: Logger;
  stateDir: string;
  accel: Accel;
  tscKhz: number | undefined;
  /** TCG translation cache per VM in MiB (ignored under KVM). */
  tcgCacheMb?: number;
  machine?: "microvm" | "q35";
  /** Memory the host keeps for itself; sandboxes may allocate the rest. */
  allocatableMemoryMb: number;
  bootTimeoutMs?: number;
  maxOutputBytes?: number;
  /** Longest a guest stays frozen for a disk snapshot; a snapshot that needs longer fails. */
  maxFrozenMs?: number;
  onEvent?: (event: SandboxEvent) => void;
  /** Signs the short-lived certificates for SSH into sandboxes (the second channel). */
  sshCa?: SshCertificateAuthority;
  /** Starts, stops and talks to QEMU processes; unit tests stand in for it. */
  vm?: VmControl;
  /** Told of boots and commands, for the metrics. */
  observe?: SandboxObserver;
}

export type ResolvedOptions = Required<Omit<ManagerOptions, "onEvent" | "tscKhz" | "sshCa" | "observe">> &
  Pick<ManagerOptions, "onEvent" | "tscKhz" | "sshCa" | "observe">;

/** The warm pool as creates see it: it hands out a ready entry, or runs `cold` to boot one. */
export interface PoolCreate {
  create(input: CreateInput & { id: string }, cold: () => Promise<SandboxRow>): Promise<SandboxRow>;
}
