import type { Kysely } from "kysely";
import { z } from "zod";
import type { AccessCache } from "../auth/access-cache.js";
import type { ChangeRequest, DB } from "../db/schema.js";
import { pageReply, pageSchema } from "../http/pages.js";
import { errorResponses, FreeText, OrgParams, Pagination, securityAny, Uuid } from "../http/schemas.js";
import type { App } from "../http/types.js";
import { type OrgScope, orgScope } from "../orgs/access.js";
import { maxPlaybookBytes } from "./playbook-text.js";
import type { ChangeRequestService } from "./service.js";
import { changeRequestStates } from "./states.js";
import {
  ChangeRequestSchema,
  ChangeRequestSummarySchema,
  changeRequestView,
  contentsNote,
  mayReadContents,
  summaryView,
} from "./views.js";

const Title = FreeText.trim()
  .min(1)
  .max(200)
  .refine((s) => !/\p{Cc}/u.test(s), { message: "must be one line of text without control characters" });
const Description = FreeText.max(16_384);
const Comment = FreeText.max(4096);
const Hash = z.string().regex(/^[0-9a-f]{64}$/, "must be a sha256 in lowercase hex");
const PlaybookYaml = FreeText.min(1)
  .refine((yaml) => Buffer.byteLength(yaml, "utf8") <= maxPlaybookBytes, `must be at most ${maxPlaybookBytes} bytes`)
  .describe("an Ansible playbook: a YAML list of plays");

const CreateBody = z.strictObject({
  sandbox_id: Uuid,
  title: Title,
  description: Description.optional(),
  playbook: z
    .union([z.strictObject({ yaml: PlaybookYaml }), z.strictObject({ playbook_id: Uuid })])
    .optional()
    .describe("absent: the playbook the host generates from the diff; else raw YAML or an agent-authored playbook"),
});

export const ChangeRequestParams = z.strictObject({ slug: OrgParams.shape.slug, changeRequestId: Uuid });
const ListQuery = Pagination.extend({ state: z.enum(changeRequestStates).optional() });

/** Change requests (SPEC §7): a sandbox's diff and playbook, verified on a fresh clone, approved by a second person. */
export function changeRequestRoutes(
  app: App,
  ctx: { db: Kysely<DB>; access: AccessCache; changeRequests: ChangeRequestService },
): void {
  const { changeRequests } = ctx;
  const full = async (scope: OrgScope, row: ChangeRequest) =>
    changeRequestView(row, await changeRequests.decisions(scope, row.id), mayReadContents(scope, row));

  app.post(
    "/v1/orgs/:slug/change-requests",
    {
      bodyLimit: maxPlaybookBytes * 2 + 65_536,
      schema: {
        operationId: "createChangeRequest",
        tags: ["change-requests"],
        summary: "Make a change request from a sandbox's diff and a playbook (its creator or an admin)",
        description:
          "Asks the sandbox's host for the diff against its base and, unless a playbook is given, the playbook " +
          "generated from it. The request starts as draft; verify it next.",
        security: securityAny,
        params: OrgParams,
        body: CreateBody,
        response: { 201: ChangeRequestSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const body = request.body;
      const row = await changeRequests.create(scope, {
        sandboxId: body.sandbox_id,
        title: body.title,
        description: body.description ?? "",
        playbook:
          body.playbook === undefined
            ? undefined
            : "yaml" in body.playbook
              ? { yaml: body.playbook.yaml }
              : { playbookId: body.playbook.playbook_id },
      });
      return reply.code(201).send(await full(scope, row));
    },
  );

  app.get(
    "/v1/orgs/:slug/change-requests",
    {
      schema: {
        operationId: "listChangeRequests",
        tags: ["change-requests"],
        summary: "Change requests of the organization, newest first",
        security: securityAny,
        params: OrgParams,
        querystring: ListQuery,
        response: {
          200: pageSchema("change_requests", ChangeRequestSummarySchema),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      const { limit, offset, state } = request.query;
      const rows = await changeRequests.list(scope, { state, limit, offset });
      return pageReply("change_requests", rows, { limit, offset }, summaryView);
    },
  );

  app.get(
    "/v1/orgs/:slug/change-requests/:changeRequestId",
    {
      schema: {
        operationId: "getChangeRequest",
        tags: ["change-requests"],
        summary: "One change request: diff, playbook, verification and approvals",
        description: `Poll this while state is verifying. ${contentsNote}`,
        security: securityAny,
        params: ChangeRequestParams,
        response: { 200: ChangeRequestSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "viewer");
      return full(scope, await changeRequests.get(scope, request.params.changeRequestId));
    },
  );

  app.put(
    "/v1/orgs/:slug/change-requests/:changeRequestId/playbook",
    {
      bodyLimit: maxPlaybookBytes * 2 + 65_536,
      schema: {
        operationId: "editChangeRequestPlaybook",
        tags: ["change-requests"],
        summary: "Replace the playbook (its author or an admin); back to draft",
        description:
          "The playbook gets a new hash: the verification is dropped and earlier approvals no longer count. " +
          "Refused once the request is applied.",
        security: securityAny,
        params: ChangeRequestParams,
        body: z.strictObject({ yaml: PlaybookYaml }),
        response: { 200: ChangeRequestSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const row = await changeRequests.editPlaybook(scope, request.params.changeRequestId, request.body.yaml);
      return full(scope, row);
    },
  );

  app.post(
    "/v1/orgs/:slug/change-requests/:changeRequestId/verify",
    {
      schema: {
        operationId: "verifyChangeRequest",
        tags: ["change-requests"],
        summary: "Verify the playbook on a fresh clone of the same base, in the background",
        description:
          "Answers 202 with state verifying. The server boots a clone of the same image or capture on the same " +
          "host, runs the playbook twice (the second run must change nothing), diffs the clone and compares it " +
          "with the request's diff, then destroys the clone. Poll GET until verified or verification_failed.",
        security: securityAny,
        params: ChangeRequestParams,
        response: { 202: ChangeRequestSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const scope = await orgScope(ctx, request, request.params.slug, "member");
      const row = await changeRequests.verify(scope, request.params.changeRequestId);
      return reply.code(202).send(await full(scope, row));
    },
  );

  app.post(
    "/v1/orgs/:slug/change-requests/:changeRequestId/approve",
    {
      schema: {
        operationId: "approveChangeRequest",
        tags: ["change-requests"],
        summary: "Approve a verified change request at the hashes you reviewed (admin+, not its author)",
        description:
          "403 for the author unless the organization allows self-approval; 409 when the hashes are not the " +
          "request's current ones or it is not verified.",
        security: securityAny,
        params: ChangeRequestParams,
        body: z.strictObject({ diff_hash: Hash, playbook_hash: Hash, comment: Comment.optional() }),
        response: { 200: ChangeRequestSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const row = await changeRequests.approve(scope, request.params.changeRequestId, {
        diffHash: request.body.diff_hash,
        playbookHash: request.body.playbook_hash,
        comment: request.body.comment ?? "",
      });
      return full(scope, row);
    },
  );

  app.post(
    "/v1/orgs/:slug/change-requests/:changeRequestId/reject",
    {
      schema: {
        operationId: "rejectChangeRequest",
        tags: ["change-requests"],
        summary: "Reject a change request (admin+)",
        security: securityAny,
        params: ChangeRequestParams,
        body: z.strictObject({ comment: Comment.optional() }).nullish(),
        response: { 200: ChangeRequestSchema, ...errorResponses },
      },
    },
    async (request) => {
      const scope = await orgScope(ctx, request, request.params.slug, "admin");
      const row = await changeRequests.reject(scope, request.params.changeRequestId, request.body?.comment ?? "");
      return full(scope, row);
    },
  );
}
