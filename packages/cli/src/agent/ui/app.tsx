import { Box, type Key, render, Static, Text, useApp, useInput } from "ink";
import { useCallback, useEffect, useRef, useState } from "react";
import { CliError, table } from "../../output.js";
import type { Agent, AgentEvent } from "../loop.js";
import type { Approver, Mode } from "../tools.js";
import { Dialog } from "./dialog.js";
import { StatusBar } from "./status-bar.js";
import { callLine, type Entry, EntryView } from "./transcript.js";

export interface AppProps {
  agent: Agent;
  model: string;
}

/** chat → leaving (the turn in flight stops) → confirm-cleanup (if sandboxes remain) → cleaning → done. */
type Phase = "chat" | "leaving" | "confirm-cleanup" | "cleaning" | "done";

interface Line {
  text: string;
  cursor: number;
}

interface Question {
  text: string;
  answer(yes: boolean): void;
}

interface Running {
  id: string;
  name: string;
  arguments: string;
  progress?: string;
}

const HELP = [
  "/help       this list",
  "/clear      start a new conversation (sandboxes from this session stay tracked)",
  "/sandboxes  the organization's live sandboxes",
  "/mode       switch between edit and read-only mode (also Shift+Tab; /mode edit, /mode read-only)",
  "/exit       leave, offering to destroy this session's sandboxes (also Ctrl+C twice)",
  "Esc stops the agent's turn; Up/Down recall earlier messages.",
].join("\n");

const other = (mode: Mode): Mode => (mode === "edit" ? "read-only" : "edit");

/** The terminal UI: transcript, approval dialogs, input line and status bar around one Agent. */
export function App({ agent, model }: AppProps) {
  const { exit } = useApp();
  const [entries, setEntries] = useState<Array<{ id: number; entry: Entry }>>([]);
  const nextId = useRef(0);
  const add = useCallback((entry: Entry) => setEntries((list) => [...list, { id: nextId.current++, entry }]), []);
  const [running, setRunning] = useState<Running[]>([]);
  const [line, setLine] = useState<Line>({ text: "", cursor: 0 });
  const history = useRef<string[]>([]);
  const historyAt = useRef(0);
  const [mode, setMode] = useState(agent.mode);
  const [sandboxes, setSandboxes] = useState(agent.session.size);
  const [busy, setBusy] = useState(false);
  const [phase, setPhase] = useState<Phase>("chat");
  const [question, setQuestion] = useState<Question>();
  // Refs for what async code (the turn, leaving) must read as it is now, not as it was when it started.
  const questionRef = useRef<Question>(undefined);
  const turn = useRef<{ controller: AbortController; done: Promise<void> }>(undefined);
  const ctrlCArmed = useRef(false);

  const [approver] = useState<Approver>(() => ({
    approve: (text) =>
      new Promise<boolean>((resolve) => {
        const asked: Question = {
          text,
          answer(yes) {
            questionRef.current = undefined;
            setQuestion(undefined);
            resolve(yes);
          },
        };
        questionRef.current = asked;
        setQuestion(asked);
      }),
  }));

  useEffect(() => {
    // Exiting after the render that added the last entries, so they reach the terminal.
    if (phase === "done") exit();
  }, [phase, exit]);

  const onEvent = useCallback(
    (event: AgentEvent) => {
      switch (event.type) {
        case "assistant":
          add({ kind: "assistant", text: event.text });
          break;
        case "tool_call":
          setRunning((list) => [...list, { id: event.id, name: event.name, arguments: event.arguments }]);
          break;
        case "tool_progress":
          setRunning((list) => list.map((r) => (r.id === event.id ? { ...r, progress: event.message } : r)));
          break;
        case "tool_result":
          setRunning((list) => list.filter((r) => r.id !== event.id));
          add({ kind: "tool", name: event.name, arguments: event.arguments, outcome: event.outcome });
          setSandboxes(agent.session.size);
          break;
        case "error":
          add({ kind: "error", text: event.message });
          break;
        case "notice":
          add({ kind: "notice", text: event.message });
          break;
      }
    },
    [add, agent],
  );

  const switchMode = (next: Mode) => {
    agent.mode = next;
    setMode(next);
    add({ kind: "notice", text: `${next} mode` });
  };

  const startTurn = (text: string) => {
    add({ kind: "user", text });
    const controller = new AbortController();
    setBusy(true);
    const done = agent.send(text, { approver, onEvent, signal: controller.signal }).finally(() => {
      turn.current = undefined;
      setBusy(false);
      setRunning([]);
      setSandboxes(agent.session.size);
    });
    turn.current = { controller, done };
  };

  const stopTurn = () => {
    turn.current?.controller.abort();
    questionRef.current?.answer(false);
  };

  const leave = async () => {
    setPhase("leaving");
    const current = turn.current;
    if (current) {
      stopTurn();
      await current.done;
    }
    setSandboxes(agent.session.size);
    setPhase(agent.session.size > 0 ? "confirm-cleanup" : "done");
  };

  const cleanUp = async () => {
    setPhase("cleaning");
    await agent.session.destroyAll(agent.toolbox, (result) => {
      add(
        result.destroyed
          ? { kind: "notice", text: `destroyed ${result.sandboxId}` }
          : { kind: "error", text: `failed to destroy ${result.sandboxId}: ${result.detail}` },
      );
      setSandboxes(agent.session.size);
    });
    setPhase("done");
  };

  const listSandboxes = async () => {
    const outcome = await agent.toolbox.call("list_sandboxes", {});
    if (outcome.status !== "ok") {
      add({ kind: "error", text: outcome.content });
      return;
    }
    // The MCP client has checked the result against list_sandboxes' output schema.
    const list = (outcome.structured?.sandboxes ?? []) as Array<{
      id: string;
      name: string;
      state: string;
      ip: string | null;
    }>;
    const mine = new Set(agent.session.list());
    add({
      kind: "notice",
      text:
        list.length === 0
          ? "no live sandboxes"
          : table(
              ["ID", "NAME", "STATE", "IP", ""],
              list.map((s) => [s.id, s.name, s.state, s.ip, mine.has(s.id) ? "this session" : ""]),
            ).trimEnd(),
    });
  };

  const command = (text: string) => {
    const [name, argument] = text.split(/\s+/);
    switch (name) {
      case "/help":
        add({ kind: "notice", text: HELP });
        break;
      case "/clear":
        if (turn.current) {
          add({ kind: "notice", text: "the agent is still working; press Esc to stop it first" });
          break;
        }
        agent.clear();
        add({ kind: "notice", text: "new conversation (this session's sandboxes are still tracked)" });
        break;
      case "/sandboxes":
        void listSandboxes();
        break;
      case "/mode":
        if (argument === "edit" || argument === "read-only") switchMode(argument);
        else if (argument === undefined) switchMode(other(agent.mode));
        else add({ kind: "notice", text: "/mode takes edit or read-only" });
        break;
      case "/exit":
      case "/quit":
        void leave();
        break;
      default:
        add({ kind: "notice", text: `unknown command ${name}; /help lists them` });
    }
  };

  const submit = () => {
    const text = line.text.trim();
    if (!text) return;
    const slash = text.startsWith("/");
    if (!slash && turn.current) {
      add({ kind: "notice", text: "the agent is still working; wait, or press Esc to stop it" });
      return;
    }
    history.current.push(text);
    historyAt.current = history.current.length;
    setLine({ text: "", cursor: 0 });
    if (slash) command(text);
    else startTurn(text);
  };

  const recall = (step: -1 | 1) => {
    const at = historyAt.current + step;
    if (at < 0 || at > history.current.length) return;
    historyAt.current = at;
    const text = history.current[at] ?? "";
    setLine({ text, cursor: text.length });
  };

  const onCtrlC = () => {
    if (phase === "cleaning" || phase === "leaving") {
      exit(
        new CliError(`interrupted; ${agent.session.size} sandbox(es) created in this session may still be running`, {
          code: "interrupted",
        }),
      );
    } else if (phase === "confirm-cleanup") {
      setPhase("done");
    } else if (ctrlCArmed.current) {
      void leave();
    } else {
      ctrlCArmed.current = true;
      add({ kind: "notice", text: "press Ctrl+C again to leave" });
    }
  };

  useInput((input, key) => {
    if (key.ctrl && input === "c") {
      onCtrlC();
      return;
    }
    ctrlCArmed.current = false;
    const asked = questionRef.current;
    if (asked) {
      if (input === "y" || input === "Y") asked.answer(true);
      else if (input === "n" || input === "N" || key.return || key.escape) asked.answer(false);
      return;
    }
    if (phase === "confirm-cleanup") {
      if (input === "y" || input === "Y") void cleanUp();
      else if (input === "n" || input === "N" || key.return || key.escape) setPhase("done");
      return;
    }
    if (phase !== "chat") return;
    if (key.tab && key.shift) switchMode(other(agent.mode));
    else if (key.escape) stopTurn();
    else if (key.return) submit();
    else if (key.upArrow) recall(-1);
    else if (key.downArrow) recall(1);
    else setLine((current) => edit(current, input, key));
  });

  return (
    <>
      <Static items={entries}>{({ id, entry }) => <EntryView key={id} entry={entry} />}</Static>
      <Box flexDirection="column" marginTop={1}>
        {running.map((r) => (
          <Text key={r.id} dimColor wrap="truncate-end">
            {callLine(r.name, r.arguments)} … {r.progress ?? "running"}
          </Text>
        ))}
        {question ? <Dialog question={question.text} /> : null}
        {phase === "confirm-cleanup" ? (
          <Dialog question={`destroy ${sandboxes} sandbox(es) created in this session?`} />
        ) : null}
        {phase === "cleaning" ? <Text>destroying sandboxes… (Ctrl+C quits at once)</Text> : null}
        {phase === "chat" && !question ? <InputLine line={line} /> : null}
        <StatusBar model={model} mode={mode} sandboxes={sandboxes} busy={busy} />
      </Box>
    </>
  );
}

function InputLine({ line }: { line: Line }) {
  return (
    <Text>
      <Text color="cyan">{"› "}</Text>
      {line.text.slice(0, line.cursor)}
      <Text inverse>{line.text[line.cursor] ?? " "}</Text>
      {line.text.slice(line.cursor + 1)}
    </Text>
  );
}

/** The input line after one keypress (or one paste, which ink delivers whole). */
function edit(line: Line, input: string, key: Key): Line {
  const { text, cursor } = line;
  if (key.leftArrow) return { text, cursor: Math.max(0, cursor - 1) };
  if (key.rightArrow) return { text, cursor: Math.min(text.length, cursor + 1) };
  if (key.home || (key.ctrl && input === "a")) return { text, cursor: 0 };
  if (key.end || (key.ctrl && input === "e")) return { text, cursor: text.length };
  if (key.ctrl && input === "u") return { text: text.slice(cursor), cursor: 0 };
  // Most terminals send DEL (0x7f) for Backspace, which ink calls "delete".
  if (key.backspace || key.delete) {
    return cursor === 0 ? line : { text: text.slice(0, cursor - 1) + text.slice(cursor), cursor: cursor - 1 };
  }
  if (key.ctrl || key.meta || key.tab || input === "") return line;
  const typed = input.replace(/\r\n?|\n/g, " ");
  return { text: text.slice(0, cursor) + typed + text.slice(cursor), cursor: cursor + typed.length };
}

/** Runs the UI on the process's terminal until the person leaves. */
export async function runApp(props: AppProps): Promise<void> {
  const instance = render(<App {...props} />, { exitOnCtrlC: false });
  await instance.waitUntilExit();
}
