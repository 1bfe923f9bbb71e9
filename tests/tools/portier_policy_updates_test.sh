#!/usr/bin/env bash
# Signed remote policy updates as an operator makes them: portier-policy keygen, keylist, sign and
# verify, including a tampered bundle, a replay, revoked keys, replayed key lists and a root
# rotation; and the usage errors of publish and publish-keylist (no broker is contacted: the
# publishing itself is covered by the integration tests).
# Usage: portier_policy_updates_test.sh PATH/TO/portier-policy SOURCE_DIR
# Every failed case prints "FAIL: <case>: <why>"; the exit status is 1 if any case failed.
set -u

tool=${1:?usage: $0 PATH/TO/portier-policy SOURCE_DIR}
src=${2:?usage: $0 PATH/TO/portier-policy SOURCE_DIR}
# Absolute paths: the cases run inside the temporary directory.
tool=$(cd "$(dirname "$tool")" && pwd)/$(basename "$tool")
src=$(cd "$src" && pwd)
defaults="$src/policies/defaults"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

failures=0
cases=0
fail() {  # case, message
  echo "FAIL: $1: $2" >&2
  failures=$((failures + 1))
}

# run_tool ARGS...: leaves $tmp/out, $tmp/err and $status.
run_tool() {
  "$tool" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  status=$?
}

expect_status() {  # case, expected status
  cases=$((cases + 1))
  if [ "$status" -ne "$2" ]; then
    fail "$1" "exit status $status, expected $2 (stdout: $(head -c 300 "$tmp/out") stderr: $(head -c 300 "$tmp/err"))"
    return 1
  fi
}

expect_in() {  # case, file (out|err), expected fixed text
  cases=$((cases + 1))
  if ! grep -qF -- "$3" "$tmp/$2"; then
    fail "$1" "std$2 lacks \"$3\"; it was: $(head -c 600 "$tmp/$2")"
  fi
}

expect_file() {  # case, file (out|err), expected whole content
  cases=$((cases + 1))
  if [ "$(cat "$tmp/$2")" != "$3" ]; then
    fail "$1" "std$2 differs"$'\n'"--- expected"$'\n'"$3"$'\n'"--- got"$'\n'"$(cat "$tmp/$2")"
  fi
}

expect() {  # case, shell condition
  cases=$((cases + 1))
  if ! eval "$2"; then fail "$1" "not true: $2"; fi
}

key_id() {  # PUBLIC.pem: the key id as openssl computes it
  openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -c1-16
}

# ------------------------------------------------------------------------------- keygen

for k in root root2 op op2; do
  run_tool keygen --out "$k"
  expect_status "keygen $k" 0
done
root_id=$(key_id root.pub)
root2_id=$(key_id root2.pub)
op_id=$(key_id op.pub)
op2_id=$(key_id op2.pub)
expect_file "keygen prints the key id" out "ok: key $op2_id: op2.key (private, mode 0600), op2.pub (public)"
expect "keygen: private key is 0600" '[ "$(stat -c %a op.key)" = 600 ]'
expect "keygen: public key is PEM" 'grep -q "BEGIN PUBLIC KEY" op.pub'
expect "keygen: openssl reads the key pair" '[ "$(openssl pkey -in op.key -pubout)" = "$(cat op.pub)" ]'

cp op.pub op.pub.before
run_tool keygen --out op
expect_status "keygen refuses to overwrite" 1 &&
  expect_file "keygen refuses to overwrite" err "portier-policy keygen: op.key exists; refusing to overwrite a key"
expect "keygen left the key alone" 'cmp -s op.pub op.pub.before'

run_tool keygen
expect_status "keygen without --out" 2 && expect_in "keygen without --out" err "--out PREFIX is required"

# ------------------------------------------------------------------------------- keylist

run_tool keylist --root root.key --version 1 --expires 365d --key op.pub --out keys1
expect_status "keylist v1" 0 &&
  expect_in "keylist v1" out "ok: key list version 1, 1 operator keys, signed by root $root_id, expires "
run_tool keylist --root root.key --version 2 --expires 365d --key op2.pub --out keys2
expect_status "keylist v2 (op revoked)" 0
run_tool keylist --root root.key --version 3 --expires 365d --key op.pub --key op2.pub --new-root root2.key --out keys3-rotate
expect_status "keylist v3 rotating the root" 0 &&
  expect_in "keylist v3 rotating the root" out "ok: key list version 3, 2 operator keys, signed by root $root_id, rotates the root to $root2_id, expires "
run_tool keylist --root root2.key --version 4 --expires 90d --key op.pub --out keys4-new-root
expect_status "keylist v4 by the new root" 0
run_tool keylist --root root.key --version 4 --expires 90d --key op.pub --out keys4-old-root
expect_status "keylist v4 by the retired root" 0

run_tool keylist --root root.key --version 5 --expires 365d --out x
expect_status "keylist without keys" 2 && expect_in "keylist without keys" err "name at least one operator public key with --key PUB"
run_tool keylist --root root.key --version 0 --expires 365d --key op.pub --out x
expect_status "keylist version 0" 2 && expect_in "keylist version 0" err "--version must be a positive integer, got \"0\""
run_tool keylist --root root.key --version 5 --expires 30x --key op.pub --out x
expect_status "keylist bad duration" 2 &&
  expect_in "keylist bad duration" err "--expires: expected a duration such as 365d, 12h or 90m, got \"30x\""
run_tool keylist --root root.key --version 5 --version 6 --expires 1d --key op.pub --out x
expect_status "keylist --version twice" 2 && expect_in "keylist --version twice" err "--version given twice"
run_tool keylist --root root.key --version 5 --expires 1d --key op.pub --out x --force
expect_status "keylist unknown option" 2 && expect_in "keylist unknown option" err "unknown option --force"
run_tool keylist --root root.key --version 5 --expires 1d --key op.key --out x
expect_status "keylist with a private key as --key" 1 && expect_in "keylist with a private key as --key" err "op.key: not a PEM public key"
cp root.key loose.key && chmod 644 loose.key
run_tool keylist --root loose.key --version 5 --expires 1d --key op.pub --out x
expect_status "keylist with a readable root key" 1 &&
  expect_file "keylist with a readable root key" err "portier-policy keylist: loose.key: private key is readable by group or others; chmod 600 it"
expect "failed keylists write nothing" '[ ! -e x ]'

# ------------------------------------------------------------------------------- sign

run_tool sign --key op.key --sequence 5 --expires 30d --fleet --out b5 "$defaults"
expect_status "sign the defaults for the fleet" 0 &&
  expect_in "sign the defaults for the fleet" out "ok: sequence 5, 13 files, targets fleet; key $op_id, expires "
run_tool sign --key op.key --sequence 6 --expires 12h --gateway gw-1 --gateway gw-2 --out b6-gw \
  "$defaults/purposes.textproto" "$defaults/tasmota.textproto"
expect_status "sign for two gateways" 0 &&
  expect_in "sign for two gateways" out "ok: sequence 6, 2 files, targets gateways gw-1, gw-2; key $op_id"
run_tool sign --key op.key --sequence 7 --expires 90m --class tasmota-power --out b7-class "$defaults"
expect_status "sign for a device class" 0 && expect_in "sign for a device class" out "targets device classes tasmota-power"
run_tool sign --key op2.key --sequence 8 --expires 30d --fleet --out b8-op2 "$defaults"
expect_status "sign with the second operator key" 0
run_tool sign --key op.key --sequence 9 --expires 30d --class no-such-class --out b9 "$defaults"
expect_status "sign for an undefined class warns" 0 &&
  expect_in "sign for an undefined class warns" err "warning: device class \"no-such-class\" is not defined by this policy"

cat >broken.textproto <<'EOF'
purpose { id: "analytics" title: "Insights" legal_basis: CONSENT retention_seconds: 60 }
device_class {
  id: "plug"
  topic: "plugs/{device}"
  field { path: "power" rule { purpose: "analitycs" keep {} } }
}
EOF
run_tool sign --key op.key --sequence 10 --expires 30d --fleet --out b10 broken.textproto
expect_status "sign refuses a policy that does not compile" 1 &&
  expect_file "sign refuses a policy that does not compile" err "broken.textproto:5:32: device_class[0].field[0].rule[0].purpose[0]: unknown purpose \"analitycs\"
broken.textproto: a policy needs at least one device_class
portier-policy sign: the policy does not compile (2 errors); nothing signed"
printf 'purpose { id: "a" bogus: 1 }\n' >syntax.textproto
run_tool sign --key op.key --sequence 10 --expires 30d --fleet --out b10 syntax.textproto
expect_status "sign refuses a syntax error" 1 && expect_in "sign refuses a syntax error" err "syntax.textproto:1:24:"
run_tool sign --key op.key --sequence 10 --expires 30d --fleet --out b10 "$defaults" "$defaults/dsmr.textproto"
expect_status "sign refuses two files of one name" 1 && expect_in "sign refuses two files of one name" err "two files named dsmr.textproto"
expect "refused signatures write nothing" '[ ! -e b10 ]'

run_tool sign --key op.key --sequence 10 --expires 30d --out b10 "$defaults"
expect_status "sign without a target" 2 && expect_in "sign without a target" err "choose one target: --fleet, --gateway ID... or --class CLASS..."
run_tool sign --key op.key --sequence 10 --expires 30d --fleet --gateway gw-1 --out b10 "$defaults"
expect_status "sign with two kinds of target" 2 && expect_in "sign with two kinds of target" err "choose one target"
run_tool sign --key op.key --sequence 10 --expires 30d --gateway "gw/1" --out b10 "$defaults"
expect_status "sign for a bad gateway id" 2 && expect_in "sign for a bad gateway id" err "gateway id \"gw/1\" must be 1 to 64 letters"
run_tool sign --key op.key --sequence -3 --expires 30d --fleet --out b10 "$defaults"
expect_status "sign with a negative sequence" 2 && expect_in "sign with a negative sequence" err "--sequence must be a positive integer"
run_tool sign --key op.key --sequence 10 --expires 30d --fleet --out b10
expect_status "sign without a policy" 2 && expect_in "sign without a policy" err "name at least one policy file or directory"
run_tool sign --key op.key --sequence 10 --expires 0d --fleet --out b10 "$defaults"
expect_status "sign with a zero duration" 2

# ------------------------------------------------------------------------------- verify

run_tool verify --root root.pub --keylist keys1 b5
expect_status "verify a good bundle" 0 &&
  expect_in "verify a good bundle" out "ok: sequence 5, 13 files, targets fleet; key $op_id, expires "
run_tool verify --root root.pub --keylist keys1 --gateway gw-1 b6-gw
expect_status "verify for a targeted gateway" 0
run_tool verify --root root.pub --keylist keys1 b6-gw
expect_status "verify as a targeted gateway by default" 0
run_tool verify --root root.pub --keylist keys1 --gateway gw-3 b6-gw
expect_status "verify for another gateway" 1 &&
  expect_file "verify for another gateway" out "rejected: not-targeted: bundle targets gateways gw-1, gw-2"
run_tool verify --root root.pub --keylist keys1 --gateway gw-3 --current-policy "$defaults/purposes.textproto" \
  --current-policy "$defaults/zigbee2mqtt.textproto" b7-class
expect_status "verify a class target against a policy without the class" 1 &&
  expect_file "verify a class target against a policy without the class" out "rejected: not-targeted: bundle targets device classes tasmota-power"
run_tool verify --root root.pub --keylist keys1 --gateway gw-3 --current-policy "$defaults" b7-class
expect_status "verify a class target against a policy with the class" 0

# A replay: the gateway already applied sequence 5 (or more).
run_tool verify --root root.pub --keylist keys1 --applied 5 b5
expect_status "verify a replayed bundle" 1 &&
  expect_file "verify a replayed bundle" out "rejected: rollback: sequence 5 is not above the applied sequence 5"
run_tool verify --root root.pub --keylist keys1 --applied 6 b5
expect_status "verify an older bundle" 1 && expect_in "verify an older bundle" out "rejected: rollback: sequence 5 is not above the applied sequence 6"

# Tampering: one byte of the policy text, the same length.
python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
assert b"Energy" in data
open(sys.argv[2], "wb").write(data.replace(b"Energy", b"Enargy", 1))
' b5 b5-tampered
run_tool verify --root root.pub --keylist keys1 b5-tampered
expect_status "verify a tampered bundle" 1 &&
  expect_file "verify a tampered bundle" out "rejected: bad-signature: the signature does not verify with key $op_id"
head -c 100 b5 >b5-truncated
run_tool verify --root root.pub --keylist keys1 b5-truncated
expect_status "verify a truncated bundle" 1 && expect_file "verify a truncated bundle" out "rejected: bad-signature: not a signed policy bundle"
run_tool verify --root root.pub --keylist keys1 keys1
expect_status "verify a key list as a bundle" 1 &&
  expect_file "verify a key list as a bundle" out "rejected: unknown-key: key $root_id is not in key list version 1"

# Keys: an unlisted key, a revoked key, key lists in and out of order, a root rotation.
run_tool verify --root root.pub --keylist keys1 b8-op2
expect_status "verify a bundle by an unlisted key" 1 &&
  expect_file "verify a bundle by an unlisted key" out "rejected: unknown-key: key $op2_id is not in key list version 1"
run_tool verify --root root.pub --keylist keys1 --keylist keys2 b8-op2
expect_status "verify after the key list that adds op2" 0
run_tool verify --root root.pub --keylist keys1 --keylist keys2 b5
expect_status "verify a bundle by a revoked key" 1 &&
  expect_file "verify a bundle by a revoked key" out "rejected: unknown-key: key $op_id is not in key list version 2"
run_tool verify --root root.pub --keylist keys2 --keylist keys1 b5
expect_status "verify with a replayed older key list" 1 &&
  expect_file "verify with a replayed older key list" out "rejected key list keys1: rollback: key list version 1 is not above the current version 2"
run_tool verify --root root.pub --keylist keys1 --keylist keys1 b5
expect_status "verify with the same key list twice" 1 && expect_in "verify with the same key list twice" out "rollback: key list version 1 is not above the current version 1"
run_tool verify --root root2.pub --keylist keys1 b5
expect_status "verify with another root" 1 &&
  expect_file "verify with another root" out "rejected key list keys1: unknown-key: key list signed by $root_id, not by the current root $root2_id"

run_tool verify --root root.pub --keylist keys1 --keylist keys3-rotate --keylist keys4-new-root b5
expect_status "verify across a root rotation" 0
run_tool verify --root root.pub --keylist keys1 --keylist keys3-rotate --keylist keys4-old-root b5
expect_status "verify with a list by the retired root" 1 &&
  expect_file "verify with a list by the retired root" out "rejected key list keys4-old-root: unknown-key: key list signed by $root_id, not by the current root $root2_id"

run_tool verify --root root.pub b5
expect_status "verify without a key list" 2 && expect_in "verify without a key list" err "--keylist FILE is required"
run_tool verify --root root.pub --keylist keys1
expect_status "verify without a bundle" 2 && expect_in "verify without a bundle" err "name exactly one bundle file"
run_tool verify --root root.pub --keylist keys1 --applied x b5
expect_status "verify with a bad --applied" 2
run_tool verify --root root.pub --keylist keys1 missing-bundle
expect_status "verify a missing file" 1 && expect_in "verify a missing file" err "missing-bundle: cannot open"

# ------------------------------------------------------------------------------- publish (usage only)

broker=ssl://127.0.0.1:1
for command in publish publish-keylist; do
  run_tool "$command"
  expect_status "$command without arguments" 2 && expect_in "$command without arguments" err "--broker ssl://HOST:PORT is required"
  run_tool "$command" --help
  expect_status "$command --help" 2 && expect_in "$command --help" err "unknown option --help"
  run_tool "$command" --broker tcp://127.0.0.1:1883 --fleet f b5
  expect_status "$command over plain TCP" 2 &&
    expect_in "$command over plain TCP" err "the broker is always TLS: use ssl://HOST:PORT or mqtts://HOST:PORT, got \"tcp://127.0.0.1:1883\""
  run_tool "$command" --broker $broker b5
  expect_status "$command without a destination" 2 && expect_in "$command without a destination" err "choose where to publish: --gateway ID or --fleet NAME"
  run_tool "$command" --broker $broker --fleet f --gateway g b5
  expect_status "$command with two destinations" 2 && expect_in "$command with two destinations" err "choose where to publish"
  run_tool "$command" --broker $broker --fleet "a/b" b5
  expect_status "$command to a bad fleet name" 2 && expect_in "$command to a bad fleet name" err "fleet name \"a/b\" must be 1 to 64 letters"
  run_tool "$command" --broker $broker --gateway "+" b5
  expect_status "$command to a bad gateway id" 2 && expect_in "$command to a bad gateway id" err "gateway id \"+\" must be 1 to 64 letters"
  run_tool "$command" --broker $broker --fleet f --cert c.pem b5
  expect_status "$command --cert without --key" 2 && expect_in "$command --cert without --key" err "--cert and --key go together"
  run_tool "$command" --broker $broker --fleet f --timeout 0 b5
  expect_status "$command --timeout 0" 2
  run_tool "$command" --broker $broker --fleet f
  expect_status "$command without a file" 2
  run_tool "$command" --broker $broker --fleet f b5 b6-gw
  expect_status "$command with two files" 2
done
run_tool publish --broker $broker --fleet f keys1
expect_status "publish a key list as a bundle" 1 &&
  expect_file "publish a key list as a bundle" err "portier-policy publish: keys1: not a signed policy bundle (made by \`portier-policy sign\`)"
# A bundle small enough to be read as a key list (the defaults' bundle is over the key list's size
# limit, and would be refused for that first).
run_tool sign --key op.key --sequence 5 --expires 30d --fleet --out b5-small \
  "$defaults/purposes.textproto" "$defaults/owntracks.textproto"
run_tool publish-keylist --broker $broker --fleet f b5-small
expect_status "publish-keylist a bundle" 1 &&
  expect_file "publish-keylist a bundle" err "portier-policy publish-keylist: b5-small: not a signed key list (made by \`portier-policy keylist\`)"
run_tool publish --broker $broker --gateway gw-3 b6-gw
expect_status "publish to a gateway the bundle does not target" 1 &&
  expect_file "publish to a gateway the bundle does not target" err "portier-policy publish: b6-gw: the bundle targets gateways gw-1, gw-2, not gw-3"

run_tool help
expect_status "help" 0
for command in keygen keylist sign verify publish publish-keylist; do
  expect_in "help lists $command" out "  $command "
done

if [ "$failures" -ne 0 ]; then
  echo "portier_policy_updates_test: $failures of $cases checks failed" >&2
  exit 1
fi
echo "portier_policy_updates_test: all $cases checks passed"
