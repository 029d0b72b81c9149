/** The certificate principal root accepts for fluid's apply access (and nothing else from fluid's CA). */
export const APPLY_PRINCIPAL = "fluid-apply";

/** The sshd drop-in that holds the apply access, apart from the read-only one. */
const APPLY_DROP_IN = "fluid-apply.conf";

/**
 * The part of a VM's preparation that installs or removes the apply access (POSIX sh, run as root
 * inside prepareScript, before its `sshd -t` and reload). `sshDir` is /etc/ssh on a VM (tests point
 * it elsewhere).
 *
 * Installed, root accepts a certificate from the daemon's CA only when it carries the principal
 * `fluid-apply` (AuthorizedPrincipalsFile), and root's sessions get no forwarding of any kind.
 * Root's other ways in (the owner's authorized_keys, PermitRootLogin) are the owner's and stay as
 * they are: fluid neither widens nor narrows them, so a VM whose sshd forbids root login (`no`,
 * `forced-commands-only`) cannot be prepared for apply and the preparation says why.
 *
 * Removed, both files are gone, so a fluid-apply certificate maps to no root login again (without
 * a principals file sshd requires the principal `root`, which fluid's CA never issues).
 */
export function applyAccessScript(enable: boolean, sshDir = "/etc/ssh"): string {
  if (!/^\/[\w./-]+$/.test(sshDir)) throw new Error("unexpected sshd directory");
  const principals = `${sshDir}/fluid_principals/root`;
  const dropIn = `${sshDir}/sshd_config.d/${APPLY_DROP_IN}`;
  const includeLine = `Include ${dropIn}`;
  const escaped = includeLine.replaceAll(".", "\\.").replaceAll("/", "\\/");
  if (!enable) {
    return `sed -i '/^${escaped}$/d' ${sshDir}/sshd_config
rm -f ${dropIn} ${principals}
echo step apply_access_removed
`;
  }
  return `mkdir -p ${sshDir}/fluid_principals ${sshDir}/sshd_config.d
printf '%s\\n' '${APPLY_PRINCIPAL}' > ${principals}.new
chmod 0644 ${principals}.new
mv -f ${principals}.new ${principals}
cat > ${dropIn}.new <<'FLUID_APPLY_EOF'
# Managed by fluid: approved changes are applied as root with a one-time certificate from fluid's
# CA carrying the principal ${APPLY_PRINCIPAL}. Preparing the VM without apply removes this file.
Match User root
  AuthorizedPrincipalsFile ${principals}
  AllowTcpForwarding no
  AllowStreamLocalForwarding no
  AllowAgentForwarding no
  X11Forwarding no
  PermitTunnel no
FLUID_APPLY_EOF
chmod 0644 ${dropIn}.new
mv -f ${dropIn}.new ${dropIn}
if ! grep -Eq '^[[:space:]]*Include[[:space:]]+${sshDir.replaceAll(".", "\\.")}/sshd_config\\.d/\\*\\.conf' ${sshDir}/sshd_config \\
  && ! grep -qx '${includeLine}' ${sshDir}/sshd_config; then
  sed -i '1i ${includeLine}' ${sshDir}/sshd_config
fi
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
root_login=$("$sshd_bin" -T -C user=root,host=fluid-apply,addr=127.0.0.1 2>/dev/null | awk '$1 == "permitrootlogin" { print $2 }')
case "$root_login" in
  yes | prohibit-password | without-password) ;;
  *)
    sed -i '/^${escaped}$/d' ${sshDir}/sshd_config
    rm -f ${dropIn} ${principals}
    echo "root may not log in by key on this VM (PermitRootLogin \${root_login:-unknown}); apply needs prohibit-password or yes, which fluid leaves to the VM's owner" >&2
    exit 3
    ;;
esac
echo step apply_access
`;
}
