/** DNS messages for tests of the egress resolver: queries, and answers as an authoritative zone gives them. */

export function encodeName(name: string): Buffer {
  return Buffer.concat([
    ...name.split(".").map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, "latin1")])),
    Buffer.from([0]),
  ]);
}

export function query(name: string, id = 0x1234, type = 1): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/** An answer to `request` with A records whose owner is the question (a pointer to offset 12). */
export function answer(request: Buffer, addresses: readonly string[], ttl = 60): Buffer {
  const questionEnd = 12 + encodeName(readQuestionName(request)).length + 4;
  const header = Buffer.from(request.subarray(0, questionEnd));
  header.writeUInt16BE(0x8400 | (request.readUInt16BE(2) & 0x0100), 2);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((address) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0);
    record.writeUInt16BE(1, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(ttl, 6);
    record.writeUInt16BE(4, 10);
    Buffer.from(address.split(".").map(Number)).copy(record, 12);
    return record;
  });
  return Buffer.concat([header, ...records]);
}

/** The question's name of a query without compression. */
export function readQuestionName(request: Buffer): string {
  const labels: string[] = [];
  for (let offset = 12; request[offset] !== 0; offset += 1 + (request[offset] as number)) {
    labels.push(request.toString("latin1", offset + 1, offset + 1 + (request[offset] as number)));
  }
  return labels.join(".");
}
