import { isOurVm, killVm, launchVm, readPid, type VmSpec, vmPaths, waitForExit } from "../vm/qemu.js";
import { QmpClient } from "../vm/qmp.js";

/** What the sandbox modules need from QEMU processes, keyed by a VM's directory. */
export interface VmControl {
  launch(spec: VmSpec): Promise<number>;
  kill(pid: number, dir: string): Promise<void>;
  isOurs(pid: number, dir: string): Promise<boolean>;
  /** The pid QEMU wrote for the VM in `dir`, if it is there. */
  pidOf(dir: string): Promise<number | undefined>;
  waitForExit(pid: number, dir: string, timeoutMs: number): Promise<boolean>;
  qmp(dir: string): Promise<QmpClient>;
}

export const qemuVms: VmControl = {
  launch: (spec) => launchVm(spec),
  kill: killVm,
  isOurs: isOurVm,
  pidOf: (dir) => readPid(vmPaths(dir).pidfile),
  waitForExit,
  qmp: (dir) => QmpClient.connect(vmPaths(dir).qmp),
};

/** Runs `job` on a QMP connection to the VM in `dir`, closing it afterwards. */
export async function withQmp<T>(vm: VmControl, dir: string, job: (qmp: QmpClient) => Promise<T>): Promise<T> {
  const qmp = await vm.qmp(dir);
  try {
    return await job(qmp);
  } finally {
    qmp.close();
  }
}
