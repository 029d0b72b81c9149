import { describe, expect, it } from "vitest";
import { parseProcNet } from "./proc-net.js";

// Captured from a Linux x86-64 host with listeners on 127.0.0.1:8080, 0.0.0.0:2024, [::1]:5432,
// [::]:8443, udp 0.0.0.0:5353 and [::]:123, one accepted TCP connection, a client connection, a
// TIME_WAIT and a connected UDP socket.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 299007 1 00000000f0a77ab2 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1480 1 00000000e828071c 100 0 0 10 0
   2: 0100007F:1F90 0100007F:B7E8 01 00000000:00000000 00:00000000 00000000     0        0 300071 1 000000005a78ef43 20 0 0 10 -1
   3: 020200C0:91EE 507100CB:0050 06 00000000:00000000 03:00000914 00000000     0        0 0 3 00000000dc493e8c
 157: 0100007F:B7E8 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 300070 2 000000006d762ed4 20 0 0 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 300033 1 00000000bdcaad1b 100 0 0 10 0
   1: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 299008 1 000000001112d11d 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 5469: 0100007F:AE28 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 300069 2 00000000ced1e6e1 0
15390: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 300034 2 000000006b780e8d 0
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
10160: 00000000000000000000000000000000:007B 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 300035 2 00000000716dc092 0
`;

describe("listening sockets from /proc/net", () => {
  it("keeps only TCP sockets in LISTEN, with their addresses decoded", () => {
    expect(parseProcNet(TCP, "tcp")).toEqual([
      { protocol: "tcp", address: "127.0.0.1", port: 8080, inode: 299007 },
      { protocol: "tcp", address: "0.0.0.0", port: 2024, inode: 1480 },
    ]);
  });

  it("decodes IPv6 addresses word by word and writes them compressed", () => {
    expect(parseProcNet(TCP6, "tcp6")).toEqual([
      { protocol: "tcp6", address: "::1", port: 5432, inode: 300033 },
      { protocol: "tcp6", address: "::", port: 8443, inode: 299008 },
    ]);
  });

  it("keeps unconnected UDP sockets and drops connected ones", () => {
    expect(parseProcNet(UDP, "udp")).toEqual([{ protocol: "udp", address: "0.0.0.0", port: 5353, inode: 300034 }]);
    expect(parseProcNet(UDP6, "udp6")).toEqual([{ protocol: "udp6", address: "::", port: 123, inode: 300035 }]);
  });
});
