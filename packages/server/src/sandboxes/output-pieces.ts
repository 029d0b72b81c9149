import type { OutputPiece } from "./host-client.js";
import { sandboxLimits } from "./limits.js";

interface StreamState {
  forwarded: number;
  kept: Buffer[];
  keptBytes: number;
  truncated: boolean;
}

/**
 * The control plane's own bound on a streamed command's output: pieces are passed on until a
 * stream reaches `maxBytes` (the host caps at the same size; this guards against one that does
 * not), and up to `maxStoredBytes` of each stream are kept for the command's record.
 */
export class OutputPieces {
  private readonly streams = {
    stdout: { forwarded: 0, kept: [], keptBytes: 0, truncated: false } as StreamState,
    stderr: { forwarded: 0, kept: [], keptBytes: 0, truncated: false } as StreamState,
  };

  constructor(
    private readonly maxBytes: number = sandboxLimits.maxOutputBytes,
    private readonly maxStoredBytes: number = sandboxLimits.maxStoredOutputBytes,
  ) {}

  /** What of `piece` may be passed on: all of it, the part under the cap, or nothing. */
  accept(piece: OutputPiece): OutputPiece | undefined {
    const state = this.streams[piece.stream];
    const room = this.maxBytes - state.forwarded;
    if (room <= 0) {
      state.truncated ||= piece.data.length > 0;
      return undefined;
    }
    const data = piece.data.length > room ? piece.data.subarray(0, room) : piece.data;
    if (data.length < piece.data.length) state.truncated = true;
    state.forwarded += data.length;
    const keep = Math.min(data.length, this.maxStoredBytes - state.keptBytes);
    if (keep > 0) {
      state.kept.push(Buffer.from(data.subarray(0, keep)));
      state.keptBytes += keep;
    }
    return data.length === 0 ? undefined : { stream: piece.stream, data };
  }

  /** The stream as the command's record keeps it (UTF-8 text, as buffered commands are stored). */
  stored(stream: OutputPiece["stream"]): { text: string; truncated: boolean } {
    const state = this.streams[stream];
    return {
      text: Buffer.concat(state.kept).toString("utf8"),
      truncated: state.truncated || state.forwarded > state.keptBytes,
    };
  }
}
