/** A section whose API is still being built; says so instead of guessing at its data. */
export function Coming({ title, what }: { title: string; what: string }) {
  return (
    <>
      <h1>{title}</h1>
      <p>
        Coming: {what} The server's API for this lands with the review pipeline (issue 10); until then the CLI's{" "}
        <code>fluid sandbox diff</code> shows a sandbox's changes.
      </p>
    </>
  );
}
