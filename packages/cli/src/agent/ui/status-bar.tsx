import { Box, Text } from "ink";
import type { Mode } from "../tools.js";

export interface StatusBarProps {
  model: string;
  mode: Mode;
  sandboxes: number;
  busy: boolean;
}

export function StatusBar({ model, mode, sandboxes, busy }: StatusBarProps) {
  return (
    <Box>
      {mode === "edit" ? (
        <Text backgroundColor="yellow" color="black" bold>
          {" EDIT "}
        </Text>
      ) : (
        <Text backgroundColor="green" color="black" bold>
          {" READ-ONLY "}
        </Text>
      )}
      <Text wrap="truncate-end">
        {" "}
        {model} · {sandboxes} {sandboxes === 1 ? "sandbox" : "sandboxes"} this session
        <Text dimColor>{busy ? " · working… Esc stops" : ""} · Shift+Tab mode · /help</Text>
      </Text>
    </Box>
  );
}
