/**
 * The few parts of the DNS wire format (RFC 1035) the egress resolver reads: a query's one
 * question, and the A records of an upstream answer. Everything else is passed through untouched.
 */

export const TYPE_A = 1;
const CLASS_IN = 1;
const HEADER_BYTES = 12;

export const RCODE_SERVFAIL = 2;
export const RCODE_REFUSED = 5;

export interface Question {
  id: number;
  /** Lowercase, without the trailing dot. */
  name: string;
  type: number;
  /** Offset just past the question, where answers would start. */
  end: number;
}

export interface AddressRecord {
  address: string;
  ttl: number;
}

/** The single question of a standard query; throws on anything else. */
export function parseQuery(message: Buffer): Question {
  if (message.length < HEADER_BYTES) throw new Error("message shorter than a DNS header");
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) throw new Error("not a query");
  if ((flags >> 11) & 0xf) throw new Error("not a standard query");
  if (message.readUInt16BE(4) !== 1) throw new Error("a query must carry exactly one question");
  const { name, end } = readName(message, HEADER_BYTES);
  if (end + 4 > message.length) throw new Error("truncated question");
  return { id: message.readUInt16BE(0), name, type: message.readUInt16BE(end), end: end + 4 };
}

/** A reply to `query` with no answers and the given response code, echoing its question. */
export function errorReply(query: Buffer, question: Question, rcode: number): Buffer {
  const reply = Buffer.from(query.subarray(0, question.end));
  const recursionDesired = query.readUInt16BE(2) & 0x0100;
  reply.writeUInt16BE(0x8000 | recursionDesired | 0x0080 | rcode, 2);
  reply.writeUInt16BE(1, 4);
  reply.writeUInt32BE(0, 6);
  reply.writeUInt16BE(0, 10);
  return reply;
}

/** The A records (class IN) of a response's answer section, whatever name they belong to (CNAME chains). */
export function answerAddresses(response: Buffer): AddressRecord[] {
  if (response.length < HEADER_BYTES) throw new Error("message shorter than a DNS header");
  if (!(response.readUInt16BE(2) & 0x8000)) throw new Error("not a response");
  let offset = HEADER_BYTES;
  for (let i = response.readUInt16BE(4); i > 0; i--) offset = readName(response, offset).end + 4;
  const records: AddressRecord[] = [];
  for (let i = response.readUInt16BE(6); i > 0; i--) {
    offset = readName(response, offset).end;
    if (offset + 10 > response.length) throw new Error("truncated answer");
    const type = response.readUInt16BE(offset);
    const klass = response.readUInt16BE(offset + 2);
    const ttl = response.readUInt32BE(offset + 4);
    const length = response.readUInt16BE(offset + 8);
    offset += 10;
    if (offset + length > response.length) throw new Error("truncated answer");
    if (type === TYPE_A && klass === CLASS_IN && length === 4)
      records.push({ address: [...response.subarray(offset, offset + 4)].join("."), ttl });
    offset += length;
  }
  return records;
}

/** A (possibly compressed) name at `offset`, and the offset just past it in the message. */
export function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let position = offset;
  let end: number | undefined;
  // A pointer must point backwards, so a well-formed name cannot take more jumps than this.
  for (let jumps = 0; jumps < 128; jumps++) {
    if (position >= message.length) throw new Error("truncated name");
    const length = message[position] as number;
    if (length === 0) {
      const name = labels.join(".").toLowerCase();
      if (name.length > 253) throw new Error("name longer than 253 characters");
      return { name, end: end ?? position + 1 };
    }
    if ((length & 0xc0) === 0xc0) {
      if (position + 1 >= message.length) throw new Error("truncated name");
      const target = message.readUInt16BE(position) & 0x3fff;
      if (target >= position) throw new Error("name pointer does not point backwards");
      end ??= position + 2;
      position = target;
      continue;
    }
    if (length & 0xc0) throw new Error("unsupported label type");
    if (position + 1 + length > message.length) throw new Error("truncated name");
    const label = message.toString("latin1", position + 1, position + 1 + length);
    // A dot or odd byte inside a label would make the name read here differ from the one upstream resolves.
    if (!/^[A-Za-z0-9_*-]+$/.test(label)) throw new Error("label with characters outside a host name");
    labels.push(label);
    position += 1 + length;
  }
  throw new Error("name has too many labels or pointers");
}
