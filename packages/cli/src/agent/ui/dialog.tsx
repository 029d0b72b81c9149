import { Box, Text } from "ink";

/** A yes/no question that holds everything else until answered; No is the default. */
export function Dialog({ question }: { question: string }) {
  return (
    <Box borderStyle="round" borderColor="yellow" flexDirection="column" paddingX={1}>
      <Text>{question}</Text>
      <Text bold>(y/N)</Text>
    </Box>
  );
}
