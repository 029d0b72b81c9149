import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { untrustedCertificate } from "./tls-errors.js";

const tlsError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("untrustedCertificate", () => {
  it("names the fix for a certificate the daemon cannot verify, however deep the cause", () => {
    const wrapped = ConnectError.from(
      tlsError("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
    );
    expect(untrustedCertificate(wrapped)).toMatch(
      /^the control plane's TLS certificate is not trusted \(unable to verify the first certificate, UNABLE_TO_VERIFY_LEAF_SIGNATURE\): pass the CA .* --ca-file/,
    );
    expect(
      untrustedCertificate(tlsError("ERR_TLS_CERT_ALTNAME_INVALID", "IP: 10.0.0.1 is not in the cert's list")),
    ).toMatch(/not trusted .*--server/);
  });

  it("leaves other failures alone", () => {
    expect(untrustedCertificate(tlsError("ECONNREFUSED", "connect ECONNREFUSED"))).toBeUndefined();
    expect(untrustedCertificate(new ConnectError("bad token"))).toBeUndefined();
    expect(untrustedCertificate("text")).toBeUndefined();
  });
});
