import "@xterm/xterm/css/xterm.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal as XTerm } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import { mirrorStyleElements } from "../../lib/adopted-styles";
import { connectTerminal, endMessage, type TerminalEnd, terminalUrl } from "../../lib/terminal-socket";

interface Props {
  org: string;
  sandboxId: string;
}

type Status = { phase: "idle" | "connecting" | "open" } | { phase: "ended"; end: TerminalEnd };

/**
 * An interactive login shell in the sandbox (xterm.js over the terminal WebSocket). It opens only
 * when asked: every terminal is a shell in the guest, and a sandbox allows four at a time.
 */
export function Terminal({ org, sandboxId }: Props) {
  const [status, setStatus] = useState<Status>({ phase: "idle" });
  const [attempt, setAttempt] = useState(0);
  const [size, setSize] = useState<{ cols: number; rows: number }>();
  const screenRef = useRef<HTMLDivElement>(null);
  const closeRef = useRef<() => void>(() => undefined);
  const live = status.phase === "connecting" || status.phase === "open";

  useEffect(() => {
    const screen = screenRef.current;
    if (attempt === 0 || !screen) return;
    // Set on cleanup: a reconnect's new status must not be overwritten by the old socket's end.
    let disposed = false;
    const unmirror = mirrorStyleElements(screen);
    const term = new XTerm({ cursorBlink: true, fontFamily: "ui-monospace, Menlo, Consolas, monospace" });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(screen);
    fit.fit();
    setSize({ cols: term.cols, rows: term.rows });
    const connection = connectTerminal(
      terminalUrl(window.location, org, sandboxId, { cols: term.cols, rows: term.rows }),
      { cols: term.cols, rows: term.rows },
      {
        open: () => {
          if (disposed) return;
          setStatus({ phase: "open" });
          term.focus();
        },
        output: (data) => term.write(data),
        end: (end) => {
          if (disposed) return;
          setStatus({ phase: "ended", end });
          term.options.disableStdin = true;
          term.options.cursorBlink = false;
        },
      },
    );
    const input = term.onData((text) => connection.write(text));
    const binary = term.onBinary((bytes) => connection.writeBinary(bytes));
    const resized = term.onResize((next) => {
      setSize(next);
      connection.resize(next);
    });
    const refit = () => fit.fit();
    window.addEventListener("resize", refit);
    closeRef.current = () => connection.close();
    return () => {
      disposed = true;
      window.removeEventListener("resize", refit);
      for (const subscription of [input, binary, resized]) subscription.dispose();
      connection.close();
      term.dispose();
      unmirror();
    };
  }, [attempt, org, sandboxId]);

  const connect = () => {
    setStatus({ phase: "connecting" });
    setAttempt(attempt + 1);
  };

  return (
    <section className="card" aria-labelledby="terminal-title">
      <h2 id="terminal-title">Terminal</h2>
      {status.phase === "idle" ? (
        <>
          <p className="muted">A login shell in the sandbox, as root. Up to 4 terminals per sandbox.</p>
          <button type="button" onClick={connect}>
            Open terminal
          </button>
        </>
      ) : (
        <>
          <p className="terminal-status" role="status">
            {status.phase === "connecting" && "Connecting…"}
            {status.phase === "open" && `Connected · ${size?.cols ?? "?"} columns × ${size?.rows ?? "?"} rows`}
            {status.phase === "ended" && endMessage(status.end)}
          </p>
          <div className="terminal-screen" ref={screenRef} data-testid="terminal" />
          <div className="actions">
            {live ? (
              <button type="button" className="secondary" onClick={() => closeRef.current()}>
                Close terminal
              </button>
            ) : (
              <button type="button" onClick={connect}>
                Reconnect
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}
