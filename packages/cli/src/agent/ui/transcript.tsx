import { Box, Text } from "ink";
import type { ToolOutcome } from "../tools.js";

/** One finished item of the conversation as the person sees it. */
export type Entry =
  | { kind: "user"; text: string }
  | { kind: "assistant"; text: string }
  | { kind: "tool"; name: string; arguments: string; outcome: ToolOutcome }
  | { kind: "error"; text: string }
  | { kind: "notice"; text: string };

const ARGUMENTS_WIDTH = 100;
const SUMMARY_WIDTH = 60;

/** `▸ run_command {"sandbox_id":"…","command":"ls"}`: the call on one line, long arguments cut. */
export function callLine(name: string, rawArguments: string): string {
  let args = rawArguments.trim();
  try {
    args = JSON.stringify(JSON.parse(args));
  } catch {
    // Shown as the model wrote it: the point is to see what it sent.
  }
  return `▸ ${name} ${cut(args, ARGUMENTS_WIDTH)}`;
}

/**
 * One line on what a call came to: the first line of its text, which for fluid's tools says the gist
 * (exit code, error), or a JSON result squeezed onto one line, whose first line would be just "{".
 */
export function summary(outcome: ToolOutcome): string {
  if (outcome.status === "denied") return "network access denied";
  if (outcome.status === "refused") return "refused in read-only mode";
  if (outcome.structured && outcome.content.startsWith("{")) {
    return cut(JSON.stringify(outcome.structured), SUMMARY_WIDTH);
  }
  const first = outcome.content.split("\n").find((line) => line.trim() !== "") ?? "(no output)";
  return cut(first.trim(), SUMMARY_WIDTH);
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

const MARK: Record<ToolOutcome["status"], { mark: string; color: string }> = {
  ok: { mark: "✓", color: "green" },
  error: { mark: "✗", color: "red" },
  refused: { mark: "⊘", color: "yellow" },
  denied: { mark: "⊘", color: "yellow" },
};

export function EntryView({ entry }: { entry: Entry }) {
  switch (entry.kind) {
    case "user":
      return (
        <Box marginTop={1}>
          <Text bold color="cyan">
            {"› "}
            {entry.text}
          </Text>
        </Box>
      );
    case "assistant":
      return (
        <Box marginTop={1}>
          <Text>{entry.text}</Text>
        </Box>
      );
    case "tool": {
      const { mark, color } = MARK[entry.outcome.status];
      // The result keeps its room and the call gives way: what happened matters more than every argument.
      return (
        <Box>
          <Box flexShrink={1}>
            <Text dimColor wrap="truncate-end">
              {callLine(entry.name, entry.arguments)}
            </Text>
          </Box>
          <Box flexShrink={0}>
            <Text color={color}>
              {"  "}
              {mark} {summary(entry.outcome)}
            </Text>
          </Box>
        </Box>
      );
    }
    case "error":
      return <Text color="red">{entry.text}</Text>;
    case "notice":
      return <Text color="gray">{entry.text}</Text>;
  }
}
