# Sets up the private mount namespace of a test libvirt host (see libvirt-host.ts) and ends by
# exec'ing libvirtd, which keeps the pid this was started with. $1: the host's libvirt directory.
# It needs nothing of libvirt-daemon-system and changes nothing outside the namespace.
set -e
dir=$1

# Its own /run: no system libvirtd's sockets, and no default network autostarts.
mount -t tmpfs -o mode=755 fluid-e2e-run /run
mkdir -p /run/libvirt /run/sshd
mount --bind "$dir/etc" /etc/libvirt

# libvirtd keeps state, cache and logs in /var/{lib,cache,log}/libvirt, which only
# libvirt-daemon-system creates; a mount point cannot be made there without writing to the machine.
# So each parent becomes a tmpfs with links to the machine's own entries (everything else looks as
# it did) and a libvirt directory of our own, bound from $dir.
for parent in /var/lib /var/cache /var/log; do
  machine=/run/fluid-e2e-machine$parent
  mkdir -p "$machine"
  mount --rbind "$parent" "$machine"
  mount -t tmpfs -o mode=755 fluid-e2e-var "$parent"
  for entry in "$machine"/* "$machine"/.[!.]*; do
    # An unmatched pattern stays as it is.
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    [ "${entry##*/}" = libvirt ] || ln -s "$entry" "$parent/"
  done
  mkdir "$parent/libvirt"
  mount --bind "$dir/${parent##*/}" "$parent/libvirt"
done

# The QEMU driver resolves its built-in user and group, libvirt-qemu (made by libvirt-daemon-system's
# install script), before it reads qemu.conf, and libvirtd stops when they do not exist. Where they
# are missing, the namespace's passwd and group get them, with an id neither file uses; QEMU still
# runs as root (qemu.conf).
id=$(cat /etc/passwd /etc/group | awk -F: '{ used[$3] = 1 } END { for (id = 100; id in used; id++); print id }')
add_account() {
  grep -q '^libvirt-qemu:' "/etc/$1" && return 0
  { cat "/etc/$1"; printf '%s\n' "$2"; } >"$dir/$1"
  mount --bind "$dir/$1" "/etc/$1"
}
add_account passwd "libvirt-qemu:x:$id:$id:libvirt QEMU (fluid e2e):/nonexistent:/usr/sbin/nologin"
add_account group "libvirt-qemu:x:$id:"

exec /usr/sbin/libvirtd
