/** The /proc/net tables a guest's listening sockets are read from, named as netstat names them. */
export const socketTables = ["tcp", "tcp6", "udp", "udp6"] as const;
export type SocketTable = (typeof socketTables)[number];

export interface ListeningSocket {
  protocol: SocketTable;
  address: string;
  port: number;
  inode: number;
  /** The owning process's name (its `comm`), when it could be found. */
  process?: string;
}

const TCP_LISTEN = "0A";
/** An unconnected UDP socket is in TCP_CLOSE: it receives from anyone, as a listener does. */
const UDP_UNCONNECTED = "07";

/**
 * The listening sockets in one /proc/net table: TCP sockets in LISTEN, UDP sockets bound to a port
 * and connected to no peer. Addresses are the kernel's 32-bit words in the guest's byte order,
 * which for fluid's x86-64 guests is little-endian.
 */
export function parseProcNet(text: string, protocol: SocketTable): ListeningSocket[] {
  const wanted = protocol.startsWith("tcp") ? TCP_LISTEN : UDP_UNCONNECTED;
  const sockets: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [local, state, inode] = [fields[1], fields[3], fields[9]];
    if (!local || state !== wanted || !inode) continue;
    const [hexAddress, hexPort] = local.split(":") as [string, string | undefined];
    const port = Number.parseInt(hexPort ?? "", 16);
    if (!port) continue;
    sockets.push({ protocol, address: formatAddress(hexAddress), port, inode: Number(inode) });
  }
  return sockets;
}

function formatAddress(hex: string): string {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const chunk = hex.slice(word, word + 8);
    for (let byte = 6; byte >= 0; byte -= 2) bytes.push(Number.parseInt(chunk.slice(byte, byte + 2), 16));
  }
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 text: the longest run of two or more zero groups becomes `::`. */
function compressIpv6(groups: string[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let end = i;
    while (end < groups.length && groups[end] === "0") end++;
    if (end - i > best.length) best = { start: i, length: end - i };
    i = end;
  }
  if (best.length < 2) return groups.join(":");
  const head = groups.slice(0, best.start).join(":");
  const tail = groups.slice(best.start + best.length).join(":");
  return `${head}::${tail}`;
}
