import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { DB } from "../db/schema.js";
import { forbidden } from "../http/errors.js";
import { errorResponses, securityAny } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { orgScope } from "../orgs/access.js";
import { SandboxDiffSchema } from "../sandboxes/diff.js";
import { ChangeRequestParams } from "./routes.js";
import type { ChangeRequestService } from "./service.js";
import {
  ApplyResultSchema,
  ChangeRequestSchema,
  ChangeRequestSummarySchema,
  changeRequestView,
  DecisionSchema,
  mayReadContents,
  summaryView,
  VerificationSchema,
} from "./views.js";

const ApplyBody = z.strictObject({
  check_only: z.boolean().optional().describe("stop after the check-mode run: nothing on the VM changes"),
  timeout_seconds: z.number().int().min(60).max(3600).optional().describe("per ansible-playbook run; default 900"),
});

const BundleSchema = z
  .object({
    format: z.literal("fluid.change-bundle/v1"),
    change_request: ChangeRequestSummarySchema,
    diff_hash: z.string(),
    playbook_hash: z.string(),
    playbook: z.string().describe("the playbook, Ansible YAML; its sha256 is playbook_hash"),
    inventory: z.string().describe("an Ansible INI inventory naming the source VM the change was captured from"),
    diff: SandboxDiffSchema,
    verification: VerificationSchema.nullable(),
    approvals: z.array(DecisionSchema).describe("the approvals that are current: same hashes, after the last edit"),
  })
  .meta({ id: "ChangeBundle" });

/** One line per host: the VM under a group named for how fluid knows it; the address is the operator's. */
function inventoryFor(kind: "image" | "source_vm", vm: string, sourceHostId: string | null): string {
  const where =
    kind === "source_vm"
      ? `# the source VM ${vm} on fluid source host ${sourceHostId}; add ansible_host=… if its name does not resolve`
      : `# made from the image ${vm}: name the hosts to apply it to`;
  return `${where}\n[fluid_target]\n${kind === "source_vm" ? vm : ""}\n`;
}

/** Taking an approved change to production: export it as a bundle, or apply it through fluid. */
export function changeApplyRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; changeRequests: ChangeRequestService },
): void {
  const { changeRequests } = ctx;

  app.get(
    "/v1/orgs/:slug/change-requests/:changeRequestId/export",
    {
      schema: {
        operationId: "exportChangeRequest",
        tags: ["change-requests"],
        summary: "The change as a bundle: playbook, inventory, diff, verification report and hashes",
        description:
          "For applying it with your own tooling. The author and admins only (it holds contents of a clone of " +
          "production). `fluid change export` writes it as files.",
        security: securityAny,
        params: ChangeRequestParams,
        response: { 200: BundleSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const row = await changeRequests.get(scope, request.params.changeRequestId);
      if (!mayReadContents(scope, row)) throw forbidden("only the change request's author or an admin can export it");
      const view = changeRequestView(row, await changeRequests.decisions(scope, row.id), true);
      return {
        format: "fluid.change-bundle/v1" as const,
        change_request: summaryView(row),
        diff_hash: row.diff_hash,
        playbook_hash: row.playbook_hash,
        playbook: row.playbook,
        inventory: inventoryFor(row.source_kind, row.source_vm, row.source_host_id),
        diff: row.diff as z.infer<typeof SandboxDiffSchema>,
        verification: view.verification,
        approvals: view.approvals.filter((a) => a.current),
      };
    },
  );

  app.post(
    "/v1/orgs/:slug/change-requests/:changeRequestId/apply",
    {
      schema: {
        operationId: "applyChangeRequest",
        tags: ["change-requests"],
        summary: "Apply an approved change request to its source VM (admin+; the host must enable apply)",
        description:
          "Checks that the files the change touches are still as captured (drift: 409 naming them), runs the " +
          "playbook with --check --diff, then — unless check_only — once for real with a one-time certificate " +
          "for the host's apply principal; an applied request cannot be applied again. 403 when the source host " +
          "does not enable apply; 409 when the request is not approved, was made from an image, or is being " +
          "applied. The answer holds the attempt (`result.outcome`); the request keeps the last one.",
        security: securityAny,
        params: ChangeRequestParams,
        body: ApplyBody.nullish(),
        response: {
          200: z.object({ change_request: ChangeRequestSchema, result: ApplyResultSchema }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const { request: row, result } = await changeRequests.apply(scope, request.params.changeRequestId, {
        checkOnly: request.body?.check_only ?? false,
        timeoutSeconds: request.body?.timeout_seconds ?? 900,
      });
      const decisions = await changeRequests.decisions(scope, row.id);
      return { change_request: changeRequestView(row, decisions, true), result };
    },
  );
}
