/**
 * Import rules for the workspace packages (issue 9). Run by `npm run check:structure`
 * (scripts/check-structure.ts), which adds the folder-cycle and file-size checks that
 * dependency-cruiser cannot express as rules.
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "A file must not import itself through a chain of imports. Type-only imports count: they are erased at " +
        "runtime, but a type cycle still ties two modules into one unit of change (see tsPreCompilationDeps).",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-other-package-src",
      severity: "error",
      comment:
        "A package uses another package only through its published entry point (@fluid/<name>), never through a " +
        "path into that package's src/; shared test helpers belong in a package of their own.",
      from: { path: "^packages/([^/]+)/" },
      to: { path: "^packages/[^/]+/src/", pathNot: "^packages/$1/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: ["/node_modules/", "/dist/", "^packages/[^/]+/gen/", "^packages/web/vite\\.config\\.ts$"] },
    // Counts `import type` edges too, for the reason given on no-circular.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".d.ts", ".js", ".mjs", ".cjs"],
    },
    skipAnalysisNotInRules: true,
  },
};
