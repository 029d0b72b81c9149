import { createSocket, type Socket } from "node:dgram";

/**
 * A tiny authoritative DNS zone on 127.0.0.1 (a random UDP port): A queries for its names get their
 * address (TTL 60), anything else NXDOMAIN. Enough to be the upstream of the daemon's egress resolver.
 */
export async function startTestZone(records: Record<string, string>): Promise<Socket> {
  const socket = createSocket("udp4");
  socket.on("message", (query, remote) => {
    const reply = answer(query, records);
    if (reply) socket.send(reply, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return socket;
}

function answer(query: Buffer, records: Record<string, string>): Buffer | undefined {
  if (query.length < 17 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) {
    const length = query[offset] as number;
    labels.push(query.toString("latin1", offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  const questionEnd = offset + 5;
  if (questionEnd > query.length) return undefined;
  const address = records[labels.join(".").toLowerCase()];
  const isA = query.readUInt16BE(offset + 1) === 1;
  const header = Buffer.from(query.subarray(0, questionEnd));
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (address ? 0 : 3), 2);
  header.writeUInt32BE(0, 6);
  header.writeUInt16BE(0, 10);
  if (!address || !isA) return header;
  header.writeUInt16BE(1, 6);
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0);
  record.writeUInt16BE(1, 2);
  record.writeUInt16BE(1, 4);
  record.writeUInt32BE(60, 6);
  record.writeUInt16BE(4, 10);
  Buffer.from(address.split(".").map(Number)).copy(record, 12);
  return Buffer.concat([header, record]);
}
