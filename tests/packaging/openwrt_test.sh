#!/usr/bin/env bash
# The OpenWrt package's scripts (gateway/packaging/openwrt/portier/files/), run as procd would
# run them, against stubs of OpenWrt's /etc/rc.common, /lib/functions.sh (UCI), procd's
# functions and logger, under busybox ash when it is installed:
#   - portier-uci2conf turns sample UCI configs into portierd.conf: compared with the expected
#     text AND checked by the real `portierd --check-config` (field names, values, escaping);
#   - the init script's start_service / reload_service / service_triggers: the procd calls made
#     (command line, user, respawn, file, reload trigger, SIGHUP or restart), enabled=0, and
#     invalid values refused with a message, no instance and no partial file.
# Usage: openwrt_test.sh PATH/TO/portierd SOURCE_DIR [PORTIERD_ELF]   (KEEP=1: keep the temporary tree;
# DEBUG=1: print what the first start logged)
# Every case prints "FAIL: <case>: <why>" when it fails; the exit status is 1 if any failed.
set -u

portierd=$(realpath "${1:?usage: $0 PATH/TO/portierd SOURCE_DIR [PORTIERD_ELF]}")
# The program file whose libraries are checked: the third argument when the first is a wrapper
# (a cross build runs portierd under qemu through a script).
portierd_elf=$(realpath "${3:-$1}")
src=$(realpath "${2:?usage: $0 PATH/TO/portierd SOURCE_DIR}")
files="$src/gateway/packaging/openwrt/portier/files"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# OpenWrt's shell and tools are busybox's: the scripts run with its applets first in PATH.
applets="$tmp/busybox-applets"
mkdir -p "$applets"
if command -v busybox >/dev/null 2>&1; then
  SH="busybox sh"
  for a in awk basename cat chmod chown dirname echo id ls mkdir mv printf rm sed tr wc; do
    ln -s "$(command -v busybox)" "$applets/$a"
  done
else
  echo "openwrt_test: busybox is not installed (tools/install-deps installs it); using /bin/sh" >&2
  SH="/bin/sh"
fi

failures=0
cases=0
fail() { # case, message
  echo "FAIL: $1: $2" >&2
  failures=$((failures + 1))
}
check() { # case, command...: counts a case; fails it when the command fails
  local name=$1
  shift
  cases=$((cases + 1))
  "$@" || fail "$name" "$*"
}

# --- the stub OpenWrt tree ----------------------------------------------------------------
root="$tmp/root"
mkdir -p "$root/lib" "$root/etc/config" "$root/etc/init.d" "$root/bin" "$root/usr/libexec/portier" \
  "$root/var/etc"

# /lib/functions.sh: config_load reads /etc/config/PACKAGE (UCI's own file format is shell
# commands: config, option, list), the way OpenWrt's does through `uci export`.
cat >"$root/lib/functions.sh" <<'STUB'
config() {
	CONFIG_SECTION=${2:-cfg$((${CONFIG_NUM_SECTIONS:-0} + 1))}
	CONFIG_NUM_SECTIONS=$((${CONFIG_NUM_SECTIONS:-0} + 1))
	eval "CONFIG_${CONFIG_SECTION}_TYPE=\$1"
}
option() {
	eval "CONFIG_${CONFIG_SECTION}_${1}=\$2"
}
list() {
	local len
	eval "len=\$((\${CONFIG_${CONFIG_SECTION}_${1}_LENGTH:-0} + 1))"
	eval "CONFIG_${CONFIG_SECTION}_${1}_ITEM${len}=\$2"
	eval "CONFIG_${CONFIG_SECTION}_${1}_LENGTH=\$len"
}
config_load() {
	[ -f "$UCI_CONFIG_DIR/$1" ] || return 1
	. "$UCI_CONFIG_DIR/$1"
}
config_get() { # var section option [default]
	eval "$1=\${CONFIG_${2}_${3}:-\$4}"
}
config_list_foreach() { # section option function [args...]
	local section=$1 option=$2 function=$3 len i val
	shift 3
	eval "len=\${CONFIG_${section}_${option}_LENGTH:-0}"
	i=1
	while [ "$i" -le "$len" ]; do
		eval "val=\${CONFIG_${section}_${option}_ITEM${i}}"
		"$function" "$val" "$@"
		i=$((i + 1))
	done
}
STUB

# /etc/rc.common as procd scripts see it: the script's functions run with procd's helpers,
# which here write each call to $PROCD_LOG.
cat >"$root/etc/rc.common" <<'STUB'
. "$IPKG_INSTROOT/lib/functions.sh"
initscript=$1
action=$2
procd_record() { echo "$*" >>"$PROCD_LOG"; }
procd_open_service() { procd_record procd_open_service "$@"; }
procd_close_service() { service_triggers; procd_record procd_close_service "$@"; }
procd_open_instance() { procd_record procd_open_instance "$@"; }
procd_set_param() { procd_record procd_set_param "$@"; }
procd_close_instance() { procd_record procd_close_instance "$@"; }
procd_add_reload_trigger() { procd_record procd_add_reload_trigger "$@"; }
procd_send_signal() { procd_record procd_send_signal "$@"; }
procd_lock() { :; }
service_triggers() { :; }
rc_procd() {
	procd_open_service "$(basename "$initscript")"
	"$@"
	procd_close_service
}
start() { rc_procd start_service "$@"; }
reload() {
	if type reload_service >/dev/null 2>&1; then
		procd_lock
		reload_service "$@"
	else
		start
	fi
}
. "$initscript"
"$action"
STUB

cat >"$root/bin/logger" <<'STUB'
#!/bin/sh
echo "logger $*" >>"$LOGGER_LOG"
STUB
chmod +x "$root/bin/logger"

printf '#!/bin/sh\nexec %s %s "$@"\n' "$SH" "$files/portier-uci2conf" >"$root/usr/libexec/portier/uci2conf"
chmod +x "$root/usr/libexec/portier/uci2conf"
cp "$files/portier.init" "$root/etc/init.d/portier"

export IPKG_INSTROOT="$root"
export UCI_CONFIG_DIR="$root/etc/config"
export PATH="$root/bin:$PATH"
export PROCD_LOG="$tmp/procd.log"
export LOGGER_LOG="$tmp/logger.log"
export PORTIER_PROG="$portierd"
export PORTIER_UCI2CONF="$root/usr/libexec/portier/uci2conf"
export PORTIER_CONF_DIR="$root/var/etc"
PORTIER_USER=$(id -un)
PORTIER_GROUP=$(id -gn)
export PORTIER_USER PORTIER_GROUP
conf="$root/var/etc/portierd.conf"
restart_part="$root/var/etc/portierd.restart"

# The operator's CA, and this gateway's client certificate and key, as real PEM files.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=test-ca \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=gw-0042 \
  -keyout "$tmp/gateway.key" -out "$tmp/gateway.crt" >/dev/null 2>&1
chmod 600 "$tmp/gateway.key" "$tmp/ca.key"
echo secret >"$tmp/local.password"
cp -r "$src/policies/defaults" "$tmp/policies-copy"

init() { # action: runs /etc/init.d/portier ACTION; leaves $PROCD_LOG, $LOGGER_LOG, $init_err
  : >"$PROCD_LOG"
  : >"$LOGGER_LOG"
  PATH="$applets:$PATH" $SH "$root/etc/rc.common" "$root/etc/init.d/portier" "$1" >"$tmp/init.out" 2>"$tmp/init.err"
  init_status=$?
}
uci2conf() { # output: runs the translator; leaves $tmp/u.err, $u_status
  PATH="$applets:$PATH" $SH "$files/portier-uci2conf" "$1" 2>"$tmp/u.err"
  u_status=$?
}
has() { grep -qxF -- "$2" "$1"; }         # file, exact line
has_text() { grep -qF -- "$2" "$1"; }     # file, fixed text
lacks_text() { ! grep -qF -- "$2" "$1"; } # file, fixed text
lacks_line() { ! grep -q "^ *$2" "$1"; }  # file, start of a line (after indentation)
no_leftovers() { # no temporary or .new file in the configuration directory
  [ -z "$(find "$root/var/etc" -name '*.tmp.*' -o -name '*.errors.*' -o -name '*.new')" ]
}
checks_ok() { "$portierd" --config "$1" --check-config >"$tmp/check.out" 2>&1; }

# --- a household router's configuration -------------------------------------------------
write_full_config() { # port of upstream, policy dir
  cat >"$root/etc/config/portier" <<UCI
config portier 'main'
	option enabled '1'
	option gateway_id 'gw-0042'
	option local_host '127.0.0.1'
	option local_port '1883'
	option local_username 'ab"c\\d'
	option local_password_file '$tmp/local.password'
	option local_qos '1'
	option upstream_host 'mqtt.operator.example'
	option upstream_port '$1'
	option upstream_ca_file '$tmp/ca.pem'
	option upstream_client_cert_file '$tmp/gateway.crt'
	option upstream_client_key_file '$tmp/gateway.key'
	option upstream_client_id 'portier-gw-0042'
	option upstream_max_inflight '0032'
	option policy_dir '$2'
	option state_dir '$tmp/state'
	option spool_max_bytes '8388608'
	option spool_when_full 'drop_oldest'
	option durability 'FSYNC_EACH'
	option ledger_max_bytes '4194304'
	option control_socket '$tmp/run/control.sock'
	option control_group 'root'
	option log_level 'warning'
	option syslog '0'
	option status_interval '60'
	option paused 'no'
	list grant 'analytics'
	list grant 'service'
	list refuse 'location'
	list observe 'rtl_433/#'
	option home_assistant '1'
	option ha_discovery_prefix 'homeassistant'
	option max_payload_bytes '131072'
	option respawn_threshold '600'
	option respawn_timeout '10'
	option respawn_retry '3'
UCI
}

expected_full() { # port of upstream, policy dir
  cat <<CONF
# portierd's configuration, written by portier-uci2conf from /etc/config/portier at each
# start and reload of /etc/init.d/portier. Do not edit: edit /etc/config/portier (uci), then
# /etc/init.d/portier reload. Fields: docs/CONFIGURATION.md.
gateway_id: "gw-0042"
state_dir: "$tmp/state"
grant: "analytics"
grant: "service"
refuse: "location"
local {
  uri: "tcp://127.0.0.1:1883"
  username: "ab\\"c\\\\d"
  password_file: "$tmp/local.password"
  qos: 1
}
upstream {
  uri: "ssl://mqtt.operator.example:$1"
  ca_file: "$tmp/ca.pem"
  client_cert_file: "$tmp/gateway.crt"
  client_key_file: "$tmp/gateway.key"
  client_id: "portier-gw-0042"
  max_inflight: 32
}
spool {
  max_bytes: 8388608
  when_full: DROP_OLDEST
  durability: FSYNC_EACH
}
ledger {
  max_bytes: 4194304
}
control {
  socket: "$tmp/run/control.sock"
  group: "root"
}
logging {
  level: WARNING
}
status {
  interval_seconds: 60
}
unmatched {
  observe: "rtl_433/#"
}
home_assistant {
  discovery_prefix: "homeassistant"
}
# -- applied by a reload (SIGHUP) without a restart --
policy_dir: "$2"
limits {
  max_payload_bytes: 131072
}
CONF
}

# 1. start: the translation, checked by portierd, and the procd instance.
write_full_config 8883 "$src/policies/defaults"
init start_service_direct 2>/dev/null # (no such action: makes sure a bad action fails)
check "unknown action fails" test "$init_status" -ne 0
init start
check "start: exit 0" test "$init_status" -eq 0
[ -n "${DEBUG:-}" ] && cat "$tmp/init.err" "$PROCD_LOG" "$LOGGER_LOG" >&2
expected_full 8883 "$src/policies/defaults" >"$tmp/expected.conf"
check "start: portierd.conf as expected" diff -u "$tmp/expected.conf" "$conf"
check "start: portierd --check-config accepts it" checks_ok "$conf"
check "start: escaped quote and backslash reach portierd" has "$conf" '  username: "ab\"c\\d"'
check "start: instance" has "$PROCD_LOG" "procd_open_instance portierd"
check "start: command line" has "$PROCD_LOG" "procd_set_param command $portierd --config $conf"
check "start: user" has "$PROCD_LOG" "procd_set_param user $PORTIER_USER"
check "start: respawn from UCI" has "$PROCD_LOG" "procd_set_param respawn 600 10 3"
check "start: stdout to logd" has "$PROCD_LOG" "procd_set_param stdout 1"
check "start: stderr to logd" has "$PROCD_LOG" "procd_set_param stderr 1"
check "start: file parameter" has "$PROCD_LOG" "procd_set_param file $restart_part"
check "start: instance closed" has "$PROCD_LOG" "procd_close_instance"
check "start: reload trigger" has "$PROCD_LOG" "procd_add_reload_trigger portier"
check "start: restart part is the head of the file" \
  test "$(sed -n '/^# -- applied by a reload/q;p' "$conf")" = "$(cat "$restart_part")"
check "start: control socket directory made" test -d "$tmp/run"
check "start: no leftovers" no_leftovers

# 2. reload after a change to the policy directory only: SIGHUP, no new instance.
write_full_config 8883 "$tmp/policies-copy"
init reload
check "reload (policy): exit 0" test "$init_status" -eq 0
check "reload (policy): SIGHUP" has "$PROCD_LOG" "procd_send_signal portier portierd HUP"
check "reload (policy): no restart" lacks_text "$PROCD_LOG" "procd_open_instance"
check "reload (policy): new policy_dir written" has "$conf" "policy_dir: \"$tmp/policies-copy\""
check "reload (policy): no leftovers" no_leftovers

# 3. reload after a change portierd takes up only at a restart: procd restarts it (start with a
#    changed file parameter), no SIGHUP.
write_full_config 8884 "$tmp/policies-copy"
init reload
check "reload (upstream): exit 0" test "$init_status" -eq 0
check "reload (upstream): no SIGHUP" lacks_text "$PROCD_LOG" "procd_send_signal"
check "reload (upstream): instance registered again" has "$PROCD_LOG" "procd_open_instance portierd"
check "reload (upstream): file parameter" has "$PROCD_LOG" "procd_set_param file $restart_part"
check "reload (upstream): new port in the restart part" has_text "$restart_part" 'uri: "ssl://mqtt.operator.example:8884"'
check "reload (upstream): portierd accepts it" checks_ok "$conf"

# 4. a reload with an invalid value changes nothing: no signal, no instance, the file stays.
cp "$conf" "$tmp/before.conf"
sed -i "s/option upstream_port '8884'/option upstream_port '88x4'/" "$root/etc/config/portier"
init reload
check "reload (invalid): fails" test "$init_status" -ne 0
check "reload (invalid): no signal" lacks_text "$PROCD_LOG" "procd_send_signal"
check "reload (invalid): no instance" lacks_text "$PROCD_LOG" "procd_open_instance"
check "reload (invalid): running configuration kept" cmp -s "$tmp/before.conf" "$conf"
check "reload (invalid): logged" has_text "$LOGGER_LOG" "option 'upstream_port': must be a port number from 1 to 65535, got \"88x4\""
check "reload (invalid): no leftovers" no_leftovers

# 5. a value the translator accepts and portierd refuses: not started, portierd's reason logged.
write_full_config 8883 "$src/policies/defaults"
sed -i "s/list grant 'service'/list grant 'no-such-purpose'/" "$root/etc/config/portier"
rm -f "$conf"
init start
check "check-config refusal: no instance" lacks_text "$PROCD_LOG" "procd_open_instance"
check "check-config refusal: logged" has_text "$LOGGER_LOG" "portierd --check-config refused"
check "check-config refusal: portierd's reason logged" has_text "$LOGGER_LOG" "no-such-purpose"
check "check-config refusal: no file" test ! -e "$conf"
check "check-config refusal: no leftovers" no_leftovers

# 6. enabled 0: no instance, and the log says why.
write_full_config 8883 "$src/policies/defaults"
sed -i "s/option enabled '1'/option enabled '0'/" "$root/etc/config/portier"
init start
check "disabled: exit 0" test "$init_status" -eq 0
check "disabled: no instance" lacks_text "$PROCD_LOG" "procd_open_instance"
check "disabled: logged" has_text "$LOGGER_LOG" "not started: disabled in /etc/config/portier"
check "disabled: reload trigger still set" has "$PROCD_LOG" "procd_add_reload_trigger portier"
init reload
check "disabled: reload starts nothing" lacks_text "$PROCD_LOG" "procd_open_instance"
check "disabled: reload sends no signal" lacks_text "$PROCD_LOG" "procd_send_signal"

# 7. invalid values: each refused with its own message, nothing written.
cat >"$root/etc/config/portier" <<UCI
config portier 'main'
	option enabled 'maybe'
	option local_port '70000'
	option upstream_host 'bad host'
	option state_dir 'relative/dir'
	option durability 'SOMETIMES'
	option log_level 'LOUD'
	option spool_max_bytes '12x'
	option ledger_max_bytes '99999999999999999999999'
	option syslog 'perhaps'
	option home_assistant 'sure'
UCI
uci2conf "$tmp/out/bad.conf"
check "invalid: exit 1" test "$u_status" -eq 1
check "invalid: no file" test ! -e "$tmp/out/bad.conf"
check "invalid: no temporary file" test -z "$(ls -A "$tmp/out")"
for msg in \
  "option 'gateway_id': is required" \
  "option 'local_port': must be a port number from 1 to 65535, got \"70000\"" \
  "option 'upstream_host': must be a host name or an IPv4 address" \
  "option 'state_dir': must be an absolute path (starting with /), got \"relative/dir\"" \
  "option 'durability': must be one of: FSYNC_BATCH FSYNC_EACH NO_FSYNC; got \"SOMETIMES\"" \
  "option 'log_level': must be one of: DEBUG INFO WARNING ERROR; got \"LOUD\"" \
  "option 'spool_max_bytes': must be a whole number from 0 to 18446744073709551615, got \"12x\"" \
  "option 'ledger_max_bytes': must be a whole number" \
  "option 'syslog': must be 0 or 1" \
  "option 'home_assistant': must be 0 or 1" \
  "/tmp" ; do
  [ "$msg" = /tmp ] && continue
  check "invalid: message: $msg" has_text "$tmp/u.err" "$msg"
done
check "invalid: summary" has_text "$tmp/u.err" "invalid option(s) in /etc/config/portier; $tmp/out/bad.conf was not written"
init start
check "invalid enabled: refused" has_text "$LOGGER_LOG" "option 'enabled' must be 0 or 1"
check "invalid enabled: no instance" lacks_text "$PROCD_LOG" "procd_open_instance"

# 8. hostile strings: a newline or another control character is refused (it would end the
#    line of the text format); a quote and a backslash are escaped (case 1); an existing file is
#    not touched by a refused translation.
nl='
'
for hostile in "evil${nl}gateway_id: \"x\"" "tab	here" "esc$(printf '\033')[0m"; do
  cat >"$root/etc/config/portier" <<UCI
config portier 'main'
	option gateway_id 'gw-1'
	option upstream_host 'cloud.example'
	option upstream_client_id '$hostile'
UCI
  echo "previous" >"$tmp/hostile.conf"
  uci2conf "$tmp/hostile.conf"
  check "hostile ($(printf '%s' "$hostile" | head -c 4)): refused" test "$u_status" -eq 1
  check "hostile ($(printf '%s' "$hostile" | head -c 4)): message" has_text "$tmp/u.err" "option 'upstream_client_id': holds a control character"
  check "hostile ($(printf '%s' "$hostile" | head -c 4)): old file kept" has "$tmp/hostile.conf" "previous"
done
cat >"$root/etc/config/portier" <<UCI
config portier 'main'
	option gateway_id 'gw-1'
	option upstream_host 'cloud.example'
	option upstream_client_id 'x" } paused: true upstream { uri: "\\'
	option control_disabled '1'
	option state_dir '$tmp/state3'
	option policy_dir '$src/policies/defaults'
UCI
uci2conf "$tmp/injection.conf"
check "injection: translated" test "$u_status" -eq 0
check "injection: one escaped string" has "$tmp/injection.conf" '  client_id: "x\" } paused: true upstream { uri: \"\\"'
check "injection: no paused field" lacks_line "$tmp/injection.conf" 'paused'
# Unescaped, portierd would refuse it (upstream twice); escaped, it is one client_id.
check "injection: portierd --check-config accepts it" checks_ok "$tmp/injection.conf"

# 9. the defaults of the shipped /etc/config/portier, with the two required options set.
sed -e "s/option enabled '0'/option enabled '1'/" -e "s/option gateway_id ''/option gateway_id 'gw-7'/" \
  -e "s/option upstream_host ''/option upstream_host 'mqtt.operator.example'/" \
  "$files/portier.config" >"$root/etc/config/portier"
uci2conf "$tmp/shipped.conf"
check "shipped config: translated" test "$u_status" -eq 0
check "shipped config: upstream" has "$tmp/shipped.conf" '  uri: "ssl://mqtt.operator.example:8883"'
check "shipped config: local" has "$tmp/shipped.conf" '  uri: "tcp://127.0.0.1:1883"'
check "shipped config: policy" has "$tmp/shipped.conf" 'policy_dir: "/usr/share/portier/policies"'
check "shipped config: state" has "$tmp/shipped.conf" 'state_dir: "/srv/portier"'
check "shipped config: durability" has "$tmp/shipped.conf" '  durability: FSYNC_BATCH'
check "shipped config: socket" has "$tmp/shipped.conf" '  socket: "/var/run/portier/control.sock"'
# Field names and values checked by portierd (paths moved to this machine's test tree).
sed -e "s#/usr/share/portier/policies#$src/policies/defaults#" -e "s#/srv/portier#$tmp/state2#" \
  -e "s#/var/run/portier/control.sock#$tmp/run/control.sock#" -e 's#^}$#}#' "$tmp/shipped.conf" \
  | sed '/^control {/a\  group: "root"' >"$tmp/shipped-local.conf"
check "shipped config: portierd --check-config accepts it" checks_ok "$tmp/shipped-local.conf"

# 10. portier-web's init script, with a stand-in for portier-web that records its arguments and
#     answers --check-config with $WEB_CHECK_STATUS.
cp "$files/portier-web.init" "$root/etc/init.d/portier-web"
cat >"$root/bin/portier-web-stub" <<'STUB'
#!/bin/sh
echo "$*" >>"$WEB_ARGS_LOG"
case "$*" in *--check-config*) echo "web.conf:1:9: listen[0].port: must be 1 to 65535"; exit "$WEB_CHECK_STATUS" ;; esac
STUB
chmod +x "$root/bin/portier-web-stub"
export WEB_ARGS_LOG="$tmp/web-args.log" WEB_CHECK_STATUS=0
export PORTIER_WEB_PROG="$root/bin/portier-web-stub" PORTIER_WEB_USER="$PORTIER_USER"
export PORTIER_WEB_GROUP="$PORTIER_GROUP" PORTIER_WEB_CONF="$tmp/portier-web.conf"
sed "s#/srv/portier-web#$tmp/web-state#" "$files/portier-web.conf" >"$PORTIER_WEB_CONF"
web_init() { # action
  : >"$PROCD_LOG"
  : >"$LOGGER_LOG"
  : >"$WEB_ARGS_LOG"
  PATH="$applets:$PATH" $SH "$root/etc/rc.common" "$root/etc/init.d/portier-web" "$1" >"$tmp/init.out" 2>"$tmp/init.err"
  init_status=$?
}
cp "$files/portier-web.config" "$root/etc/config/portier-web"
web_init start
check "web disabled: no instance" lacks_text "$PROCD_LOG" "procd_open_instance"
check "web disabled: logged" has_text "$LOGGER_LOG" "not started: disabled in /etc/config/portier-web"
sed -i "s/option enabled '0'/option enabled '1'/" "$root/etc/config/portier-web"
web_init start
check "web: configuration checked first" has "$WEB_ARGS_LOG" "--config $PORTIER_WEB_CONF --check-config"
check "web: instance" has "$PROCD_LOG" "procd_open_instance portier-web"
check "web: command line" has "$PROCD_LOG" "procd_set_param command $PORTIER_WEB_PROG --config $PORTIER_WEB_CONF"
check "web: user" has "$PROCD_LOG" "procd_set_param user $PORTIER_USER"
check "web: respawn" has "$PROCD_LOG" "procd_set_param respawn 3600 5 5"
check "web: file parameter" has "$PROCD_LOG" "procd_set_param file $PORTIER_WEB_CONF"
check "web: reload trigger" has "$PROCD_LOG" "procd_add_reload_trigger portier-web"
check "web: state directory made, 0700" test "$(stat -c %a "$tmp/web-state" 2>/dev/null)" = 700
WEB_CHECK_STATUS=1 web_init start
check "web refused: no instance" lacks_text "$PROCD_LOG" "procd_open_instance"
check "web refused: reason logged" has_text "$LOGGER_LOG" "listen[0].port: must be 1 to 65535"

# 11. the package Makefile against the tree: the version, the files it installs, the CMake
#     targets it builds and where their binaries are.
mk="$src/gateway/packaging/openwrt/portier/Makefile"
cmake_version=$(sed -n 's/^project(portier VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
check "Makefile: PKG_VERSION is the project's ($cmake_version)" has "$mk" "PKG_VERSION:=$cmake_version"
for f in $(grep -o '\./files/[A-Za-z0-9._-]*' "$mk" | sort -u); do
  check "Makefile: $f exists" test -f "$src/gateway/packaging/openwrt/portier/$f"
done
for t in $(sed -n 's/.*Build\/Compile\/Default,\(.*\))$/\1/p' "$mk"); do
  check "Makefile: CMake target $t exists" grep -rqsE "add_executable\\($t( |\\)|$)" "$src/gateway" "$src/tools"
done
for b in $(grep -o '(CMAKE_BINARY_DIR)/[A-Za-z0-9/_-]*' "$mk" | sed 's/(CMAKE_BINARY_DIR)\///' | sort -u); do
  check "Makefile: $b is built in ${b%/*}/" grep -qsE "add_executable\\(${b##*/}( |\\)|$)" "$src/${b%/*}/CMakeLists.txt"
done
check "Makefile: default policies are .textproto" test -n "$(ls "$src"/policies/defaults/*.textproto)"

# 12. the feed and the package's dependencies. Every package of the feed has a Makefile naming it
#     and is needed by portier (a library no package needs is a leftover). Every shared library
#     portierd links (its NEEDED entries, from this build) is one the package depends on, by
#     the OpenWrt package that installs it; a library missing from the map below fails the case.
feed="$src/gateway/packaging/openwrt"
for d in "$feed"/*/; do
  name=$(basename "$d")
  check "feed: $name/Makefile is package $name" has "$d/Makefile" "PKG_NAME:=$name"
  [ "$name" = portier ] ||
    check "feed: $name is needed by portier" grep -qE "DEPENDS:=.*[ +=]$name( |/|$)" "$mk"
done
portier_depends=" $(sed -n '/^define Package\/portier$/,/^endef/s/^ *DEPENDS:=//p' "$mk") "
check "Makefile: portier has DEPENDS" test -n "${portier_depends// /}"
openwrt_package() { # soname: the OpenWrt package installing it, "-" when the toolchain's libc/libgcc
  case "$1" in
    libmbedtls.so* | libmbedx509.so* | libmbedcrypto.so*) echo libmbedtls ;;
    libprotobuf.so*) echo protobuf-compat ;;
    libstdc++.so*) echo libstdcpp ;;
    libatomic.so*) echo libatomic ;;
    libpthread.so*) echo libpthread ;;
    libc.so* | libm.so* | libgcc_s.so* | ld-linux*) echo - ;;
    # The sanitizers' runtimes: tools/test runs this test in its ASan + UBSan tree too.
    libasan.so* | libubsan.so* | liblsan.so* | libtsan.so*) echo - ;;
    *) echo "unknown" ;;
  esac
}
needed=$(readelf -d "$portierd_elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
check "portierd: NEEDED entries read" test -n "$needed"
for lib in $needed; do
  pkg=$(openwrt_package "$lib")
  case "$pkg" in
    -) ;;
    unknown)
      cases=$((cases + 1))
      fail "Makefile: portierd's $lib" "no OpenWrt package known for it (add it to DEPENDS and to openwrt_package)" ;;
    *) check "Makefile: portierd's $lib comes with +$pkg" has_text <(echo "$portier_depends") " +$pkg " ;;
  esac
done

echo "openwrt_test: $cases checks, $failures failed"
[ "$failures" -eq 0 ]
