import { SandboxError } from "../../errors.js";
import { handleSourceCommand } from "../source-handlers.js";
import type { HandlerContext, HandlerTable, Reply } from "./types.js";

const toSourceHost = ({ sources, message }: HandlerContext): Promise<Reply> => {
  if (!sources) throw new SandboxError("host_unavailable", "this sandbox host does not reach source hosts");
  return handleSourceCommand(sources, message);
};

/** Source VMs: listed, validated, prepared, read and applied to over their host's SSH. */
export const sourceHandlers: HandlerTable = {
  prepareSourceVm: async (_, context) => toSourceHost(context),
  runSourceCommand: async (_, context) => toSourceHost(context),
  readSourceFile: async (_, context) => toSourceHost(context),
  listSourceVms: async (_, context) => toSourceHost(context),
  validateSourceVm: async (_, context) => toSourceHost(context),
  applyPlaybook: async (_, context) => toSourceHost(context),
  discoverHosts: async () => {
    throw new SandboxError("host_unavailable", "host discovery is not supported");
  },
};
