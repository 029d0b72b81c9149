import { type FormEvent, useState } from "react";
import { ErrorNotice } from "../../components/Notice";
import { useAction } from "../../lib/action";
import { api, unwrap } from "../../lib/api";
import { asText, decodeBase64, joinPath, parentPath } from "../../lib/files";

interface Opened {
  path: string;
  bytes: Uint8Array;
  text: string | undefined;
  truncated: boolean;
}

/** Browse the guest's filesystem, view text files and download any file. */
export function Files({ org, sandboxId }: { org: string; sandboxId: string }) {
  const params = (path: string) => ({ path: { slug: org, id: sandboxId }, query: { path } });
  const [dir, setDir] = useState("/");
  const [input, setInput] = useState("/");
  const [entries, setEntries] = useState<{ name: string; type: string; size: number }[] | undefined>();
  const [opened, setOpened] = useState<Opened | undefined>();
  const { busy, error, run } = useAction();

  const list = async (path: string) => {
    const listing = await run(() =>
      unwrap(api.GET("/v1/orgs/{slug}/sandboxes/{id}/files/list", { params: params(path) })),
    );
    if (!listing) return;
    setDir(listing.path);
    setInput(listing.path);
    setEntries([...listing.entries].sort((a, b) => a.name.localeCompare(b.name)));
  };

  const open = async (path: string) => {
    const file = await run(() => unwrap(api.GET("/v1/orgs/{slug}/sandboxes/{id}/files", { params: params(path) })));
    if (!file) return;
    const bytes = decodeBase64(file.content_base64);
    setOpened({ path: file.path, bytes, text: asText(bytes), truncated: file.truncated });
  };

  const download = (file: Opened) => {
    const url = URL.createObjectURL(new Blob([file.bytes as BlobPart]));
    const a = document.createElement("a");
    a.href = url;
    a.download = file.path.split("/").pop() || "file";
    a.click();
    URL.revokeObjectURL(url);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void list(input);
  };

  return (
    <section className="card" aria-labelledby="files-title">
      <h2 id="files-title">Files</h2>
      <form onSubmit={submit} className="inline-form">
        <label>
          Directory
          <input value={input} onChange={(e) => setInput(e.target.value)} pattern="/.*" required className="mono" />
        </label>
        <button type="submit" disabled={busy}>
          List
        </button>
      </form>
      <ErrorNotice error={error} />
      {entries && (
        <ul className="files" aria-label={`Contents of ${dir}`}>
          {dir !== "/" && (
            <li>
              <button type="button" className="link" onClick={() => list(parentPath(dir))}>
                ../
              </button>
            </li>
          )}
          {entries.map((entry) => (
            <li key={entry.name}>
              <button
                type="button"
                className="link"
                onClick={() =>
                  entry.type === "directory" ? list(joinPath(dir, entry.name)) : open(joinPath(dir, entry.name))
                }
              >
                {entry.name}
                {entry.type === "directory" ? "/" : ""}
              </button>
              {entry.type === "file" && <span className="muted"> {entry.size} B</span>}
            </li>
          ))}
        </ul>
      )}
      {opened && (
        <div className="viewer">
          <div className="command-head">
            <code>{opened.path}</code>
            <button type="button" onClick={() => download(opened)}>
              Download
            </button>
          </div>
          {opened.truncated && <p className="warn">Only the first part of this file was read.</p>}
          {opened.text === undefined ? (
            <p className="muted">Binary file ({opened.bytes.length} bytes): download it to inspect.</p>
          ) : (
            <pre>{opened.text}</pre>
          )}
        </div>
      )}
    </section>
  );
}
