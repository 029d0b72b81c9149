/** Node's codes for a peer certificate that failed verification (OpenSSL's verify results and the name check). */
const CERTIFICATE_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * When a connection failed because the control plane's certificate was not trusted, the operator's
 * fix in one sentence (with Node's reason); otherwise undefined.
 */
export function untrustedCertificate(err: unknown): string | undefined {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (typeof code === "string" && CERTIFICATE_CODES.has(code)) {
      return (
        `the control plane's TLS certificate is not trusted (${cause.message}, ${code}): ` +
        "pass the CA that signed it with --ca-file, and connect with --server to a name or address the certificate lists"
      );
    }
  }
  return undefined;
}
