import { READONLY_SHELL_PATH } from "../policy/index.js";
import { applyAccessScript } from "./apply-principal.js";

/** The user fluid's read-only sessions log in as, and the certificate principal sshd maps to it. */
export const READONLY_USER = "fluid-readonly";

/**
 * The preparation as one POSIX sh script (sent as `sh -c`, no file on the VM but what it installs).
 * Each step prints `step NAME` when done, so a failure reports how far it got.
 */
export function prepareScript(caLine: string, shell: string, enableApply: boolean): string {
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+ [\w.@-]+$/.test(caLine)) throw new Error("unexpected CA key line");
  const delimiter = `FLUID_SHELL_${Date.now().toString(36)}_EOF`;
  if (shell.includes(delimiter)) throw new Error("shell script contains its heredoc delimiter");
  return `set -eu
umask 022
cat > ${READONLY_SHELL_PATH}.new <<'${delimiter}'
${shell}
${delimiter}
chmod 0755 ${READONLY_SHELL_PATH}.new
mv -f ${READONLY_SHELL_PATH}.new ${READONLY_SHELL_PATH}
echo step shell
if ! id ${READONLY_USER} >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir / --shell ${READONLY_SHELL_PATH} ${READONLY_USER}
fi
usermod --home / --shell ${READONLY_SHELL_PATH} ${READONLY_USER}
echo step user
printf '%s\\n' '${caLine}' > /etc/ssh/fluid_ca.pub
chmod 0644 /etc/ssh/fluid_ca.pub
echo step ca
mkdir -p /etc/ssh/fluid_principals
printf '%s\\n' '${READONLY_USER}' > /etc/ssh/fluid_principals/${READONLY_USER}
chmod 0644 /etc/ssh/fluid_principals/${READONLY_USER}
echo step principals
mkdir -p /etc/ssh/sshd_config.d
cat > /etc/ssh/sshd_config.d/fluid-readonly.conf <<'FLUID_SSHD_EOF'
# Managed by fluid: read-only access for ${READONLY_USER}, by certificate only.
TrustedUserCAKeys /etc/ssh/fluid_ca.pub
Match User ${READONLY_USER}
  AuthorizedPrincipalsFile /etc/ssh/fluid_principals/%u
  AuthorizedKeysFile none
  AuthenticationMethods publickey
  ForceCommand ${READONLY_SHELL_PATH}
  PermitTTY no
  AllowTcpForwarding no
  AllowStreamLocalForwarding no
  AllowAgentForwarding no
  X11Forwarding no
  PermitTunnel no
FLUID_SSHD_EOF
if ! grep -Eq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\\.d/\\*\\.conf' /etc/ssh/sshd_config; then
  sed -i '1i Include /etc/ssh/sshd_config.d/fluid-readonly.conf' /etc/ssh/sshd_config
fi
echo step sshd_config
${applyAccessScript(enableApply)}sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
"$sshd_bin" -t
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet ssh 2>/dev/null; then systemctl reload ssh
elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet sshd 2>/dev/null; then systemctl reload sshd
else
  pid=$(cat /run/sshd.pid 2>/dev/null || cat /var/run/sshd.pid 2>/dev/null || cat /fluid/sshd.pid 2>/dev/null || true)
  # sshd re-executes itself on SIGHUP and is briefly not listening; give it that moment.
  [ -n "$pid" ] && kill -HUP "$pid" && sleep 1
fi
echo step sshd_reload
`;
}
