#!/usr/bin/env bash
# The Debian package, built from a build tree's programs (gateway/packaging/debian/assemble, as
# tools/package does for its Release build), installed into a throw-away root with
# dpkg --root (maintainer scripts run outside a chroot with DPKG_ROOT set), then removed and
# purged there. Checks: every expected path and nothing else, the conffiles, the users the
# postinst makes (in the throw-away root's /etc/passwd, never the host's), the installed portierd
# --check-config on the shipped example once an upstream is filled in, state kept on remove and
# deleted on purge, users kept. Exit 77 (skipped) when the packaging tools are missing.
# Usage: deb_install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)

for tool in dpkg-deb dpkg-shlibdeps dpkg-parsechangelog systemd-sysusers openssl; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is missing (tools/install-deps installs the packaging tools)"
    exit 77
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

host_had_user=0
getent passwd portier >/dev/null && host_had_user=1

# 1. The package, from the build tree's programs and man pages.
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr >/dev/null
arch=$(dpkg --print-architecture)
deb=$("$src/gateway/packaging/debian/assemble" --root "$tmp/stage" --arch "$arch" --out "$tmp/out")
[ -f "$deb" ] || fail "assemble made no package"
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

# 2. Its files: exactly these (directories aside).
{
  printf '%s\n' usr/bin/portierd usr/bin/portierctl usr/bin/portier-policy usr/bin/portier-web \
    etc/portier/portierd.conf etc/portier/portier-web.conf \
    lib/systemd/system/portierd.service lib/systemd/system/portier-web.service \
    usr/lib/sysusers.d/portier.conf \
    usr/share/man/man8/portierd.8.gz usr/share/man/man8/portier-web.8.gz \
    usr/share/man/man1/portierctl.1.gz usr/share/man/man1/portier-policy.1.gz \
    usr/share/doc/portier/copyright usr/share/doc/portier/changelog.gz \
    usr/share/doc/portier/README.md
  for f in "$src"/policies/defaults/*.textproto; do echo "usr/share/portier/policies/${f##*/}"; done
  for f in "$src"/docs/*.md; do echo "usr/share/doc/portier/${f##*/}"; done
  for f in "$src"/docs/images/*; do echo "usr/share/doc/portier/images/${f##*/}"; done
} | LC_ALL=C sort > "$tmp/expected"
dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sed 's|^\./||' | LC_ALL=C sort > "$tmp/actual"
if ! diff -u "$tmp/expected" "$tmp/actual"; then fail "the package's files differ from the expected list (- missing, + unexpected)"; fi
echo "files: $(wc -l < "$tmp/actual") as expected"
# Owned by root, no build path in a name, programs stripped.
dpkg-deb -c "$deb" | awk '$2 != "root/root" { print; bad = 1 } END { exit bad }' || fail "files not owned by root/root"
dpkg-deb -x "$deb" "$tmp/contents"
for p in portierd portierctl portier-policy portier-web; do
  file_info=$(readelf -S "$tmp/contents/usr/bin/$p")
  grep -q '\.debug_info' <<<"$file_info" && fail "usr/bin/$p is not stripped"
done

# 3. Control: the conffiles, Depends from dpkg-shlibdeps, the maintainer scripts.
dpkg-deb -e "$deb" "$tmp/control"
printf '/etc/portier/portierd.conf\n/etc/portier/portier-web.conf\n' | diff -u - "$tmp/control/conffiles" ||
  fail "conffiles"
depends=$(dpkg-deb -f "$deb" Depends)
grep -q 'libc6 (>=' <<<"$depends" || fail "Depends has no libc6: $depends"
grep -q 'systemd | systemd-sysusers' <<<"$depends" || fail "Depends has no systemd-sysusers: $depends"
# portierd's upstream MQTT client is its own, over mbedTLS: neither Paho nor OpenSSL is linked.
grep -q 'libmbedtls' <<<"$depends" || fail "Depends has no libmbedtls (the upstream TLS): $depends"
if grep -qE 'libpaho|libssl' <<<"$depends"; then fail "Depends names Paho or OpenSSL: $depends"; fi
for s in postinst prerm postrm; do [ -x "$tmp/control/$s" ] || fail "no executable $s"; done
echo "control: conffiles, Depends ($depends), scripts"

# 4. Install into a throw-away root. dpkg --root runs the maintainer scripts without chroot
# (--force-script-chrootless) with DPKG_ROOT set; --force-depends: the root has no libc6.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status"
dpkg_root() {
  local extra=()
  [ "$(id -u)" -eq 0 ] || extra+=(--force-not-root)
  dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-depends "${extra[@]}" "$@"
}
dpkg_root -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i into the throw-away root"; }
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}\n' portier | grep -q "install ok installed" ||
  fail "portier is not installed in the throw-away root"
while read -r f; do [ -f "$root/$f" ] || fail "$f not installed"; done < "$tmp/expected"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' portier > "$tmp/conffiles"
grep -q '/etc/portier/portierd.conf [0-9a-f]\{32\}' "$tmp/conffiles" || fail "portierd.conf is not a registered conffile"
grep -q '/etc/portier/portier-web.conf [0-9a-f]\{32\}' "$tmp/conffiles" || fail "portier-web.conf is not a registered conffile"

# The postinst's users, in the throw-away root.
grep -q '^portier:x:[0-9]*:[0-9]*:.*:/var/lib/portier:/usr/sbin/nologin$' "$root/etc/passwd" ||
  fail "no system user portier in the root's /etc/passwd: $(cat "$root/etc/passwd")"
grep -q '^portier-web:x:' "$root/etc/passwd" || fail "no system user portier-web"
grep -q '^portier:x:[0-9]*:portier-web$' "$root/etc/group" || fail "portier-web is not in the group portier: $(cat "$root/etc/group")"
portier_uid=$(awk -F: '$1 == "portier" { print $3 }' "$root/etc/passwd")
[ "$portier_uid" -lt 1000 ] || fail "portier's uid $portier_uid is not a system uid"
if [ "$host_had_user" -eq 0 ] && getent passwd portier >/dev/null; then fail "the host got a user portier"; fi
echo "installed: files, conffiles, users portier ($portier_uid) and portier-web, portier-web in group portier"

# The installed units: systemd-analyze verify on a copy whose programs are the throw-away
# root's (the host has no /usr/bin/portierd; --root would need a whole system with its targets),
# with the root's man pages for Documentation=man:.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units"
  for unit in portierd.service portier-web.service; do
    sed "s|/usr/bin/|$root/usr/bin/|g" "$root/lib/systemd/system/$unit" > "$tmp/units/$unit"
    if ! MANPATH="$root/usr/share/man" systemd-analyze verify "$tmp/units/$unit" >"$tmp/verify.log" 2>&1 ||
      [ -s "$tmp/verify.log" ]; then
      cat "$tmp/verify.log"
      fail "systemd-analyze verify $unit"
    fi
  done
  echo "systemd-analyze verify: both units clean"
else
  echo "systemd-analyze is missing: the units were not verified"
fi

# 5. The installed portierd on the shipped example. As shipped it names what is missing.
if "$root/usr/bin/portierd" --config "$root/etc/portier/portierd.conf" --check-config >"$tmp/check0.log" 2>&1; then
  fail "the shipped portierd.conf passes --check-config without an upstream"
fi
grep -q 'gateway_id' "$tmp/check0.log" && grep -q 'upstream' "$tmp/check0.log" ||
  fail "--check-config on the shipped file does not name gateway_id and upstream: $(cat "$tmp/check0.log")"
# The operator's edit: uncomment gateway_id and the upstream block; the CA file it names is made
# here. The test's own edits move what this machine does not have into the temporary directory:
# the policy (in the throw-away root), the state and socket directories, and the group (the host
# has no group portier: root's).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-ca \
  -keyout "$tmp/ca.key" -out "$tmp/operator-ca.pem" 2>/dev/null
mkdir -p "$tmp/run"
sed -e 's/^# gateway_id: /gateway_id: /' \
  -e 's/^# upstream {/upstream {/' -e 's/^#   uri: /  uri: /' -e 's/^#   ca_file: .*/  ca_file: "CA"/' -e 's/^# }$/}/' \
  "$root/etc/portier/portierd.conf" > "$tmp/filled.conf"
grep -q '^gateway_id: "gw-0042"' "$tmp/filled.conf" && grep -q '^  uri: "ssl://' "$tmp/filled.conf" ||
  fail "the example's gateway_id and upstream lines are not where the test expects them"
sed -i -e "s|\"CA\"|\"$tmp/operator-ca.pem\"|" \
  -e "s|^policy_dir: .*|policy_dir: \"$root/usr/share/portier/policies\"|" \
  -e "s|^state_dir: .*|state_dir: \"$tmp/state\"|" \
  -e "s|^control { .*|control { socket: \"$tmp/run/control.sock\" group: \"root\" }|" "$tmp/filled.conf"
"$root/usr/bin/portierd" --config "$tmp/filled.conf" --check-config ||
  fail "the installed portierd refuses the shipped example with an upstream filled in"
[ ! -e "$tmp/state" ] || fail "--check-config wrote the state directory"
# portier-web's example passes as shipped, once its state directory exists.
sed -e "s|^state_dir: .*|state_dir: \"$tmp/web-state\"|" "$root/etc/portier/portier-web.conf" > "$tmp/web.conf"
mkdir -p "$tmp/web-state"
"$root/usr/bin/portier-web" --config "$tmp/web.conf" --check-config || fail "portier-web refuses its shipped example"

# 6. Remove keeps the state, the users and the conffiles; purge deletes state and conffiles,
# and keeps the users.
mkdir -p "$root/var/lib/portier/spool" "$root/var/lib/portier-web"
echo state > "$root/var/lib/portier/secret.key"
echo cert > "$root/var/lib/portier-web/portier-web-cert.pem"
dpkg_root -r portier >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -r"; }
[ ! -e "$root/usr/bin/portierd" ] || fail "portierd is still there after remove"
[ -f "$root/var/lib/portier/secret.key" ] || fail "remove deleted the state"
[ -f "$root/var/lib/portier-web/portier-web-cert.pem" ] || fail "remove deleted portier-web's state"
[ -f "$root/etc/portier/portierd.conf" ] || fail "remove deleted a conffile"
grep -q '^portier:' "$root/etc/passwd" || fail "remove deleted the user portier"
dpkg_root -P portier >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -P"; }
[ ! -e "$root/var/lib/portier" ] || fail "purge left /var/lib/portier"
[ ! -e "$root/var/lib/portier-web" ] || fail "purge left /var/lib/portier-web"
[ ! -e "$root/etc/portier/portierd.conf" ] || fail "purge left the conffile portierd.conf"
grep -q '^portier:' "$root/etc/passwd" && grep -q '^portier-web:' "$root/etc/passwd" ||
  fail "purge deleted a user"
if [ "$host_had_user" -eq 0 ] && getent passwd portier >/dev/null; then fail "the host got a user portier"; fi
echo "remove: state, conffiles and users kept; purge: state and conffiles gone, users kept"
echo "PASS"
