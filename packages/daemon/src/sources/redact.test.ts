import { describe, expect, it } from "vitest";
import { redactBase64, redactSecrets } from "./redact.js";

describe("redactSecrets", () => {
  it.each([
    ["DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]"],
    ['password: "s3cr3t"', 'password: "[REDACTED]"'],
    ["api_key = abc123def", "api_key = [REDACTED]"],
    ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "AWS_SECRET_ACCESS_KEY=[REDACTED]"],
    ["auth_token:xyz; next", "auth_token:[REDACTED]; next"],
    ["Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer [REDACTED]"],
    ["postgres://app:pa55@db:5432/app", "postgres://app:[REDACTED]@db:5432/app"],
    ["key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED AWS KEY ID] used"],
    [`token ghp_${"a".repeat(36)}`, "token [REDACTED GITHUB TOKEN]"],
    [
      "a\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\nz",
      "a\n[REDACTED PRIVATE KEY]\nz",
    ],
  ])("%s", (input, output) => {
    expect(redactSecrets(input)).toBe(output);
  });

  it.each([
    "PasswordAuthentication no",
    "listening on 0.0.0.0:22",
    "nginx.service - A high performance web server",
    "-rw-r--r-- 1 root root 1234 /etc/passwd",
    "https://deb.debian.org/debian bookworm main",
  ])("leaves ordinary output alone: %s", (input) => {
    expect(redactSecrets(input)).toBe(input);
  });

  it("redacts text files inside base64 and leaves binary files as they are", () => {
    const text = Buffer.from("user=app\npassword=x\n").toString("base64");
    expect(Buffer.from(redactBase64(text), "base64").toString()).toBe("user=app\npassword=[REDACTED]\n");
    const binary = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0x70, 0x61, 0x73, 0x73]).toString("base64");
    expect(redactBase64(binary)).toBe(binary);
  });
});
