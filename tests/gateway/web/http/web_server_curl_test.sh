#!/bin/sh
# portier-web over a real socket, checked with curl, against a stand-in for portierd's control
# socket (fake_portierd.py): it makes its certificate, announces itself, answers /login with the
# security headers and the login cookie, refuses a foreign Host, chunked, multipart, large and
# cross-site bodies; a pairing code opens a session whose pages need its CSRF token, logout ends
# it; wrong codes back off; without portierd pairing says it is unavailable; SIGTERM stops it.
# Usage: web_server_curl_test.sh PORTIER_WEB
set -eu
BIN=$1
WORK=$(mktemp -d /tmp/portier-web-curl-XXXXXX)
PID=
FAKE=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
  if [ -n "$FAKE" ]; then kill "$FAKE" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$WORK/out" || true; echo "--- stderr"; cat "$WORK/err" || true; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir "$WORK/state"
cat > "$WORK/web.conf" <<CONF
listen { address: "127.0.0.1" port: $PORT }
names: "portier.lan"
control_socket: "$WORK/control.sock"
state_dir: "$WORK/state"
session_idle_timeout_seconds: 1
CONF

"$BIN" --config "$WORK/web.conf" --check-config > /dev/null || fail "--check-config refused a good configuration"
python3 "$(dirname "$0")/fake_portierd.py" "$WORK/control.sock" "$WORK/control.log" &
FAKE=$!
i=0
until [ -S "$WORK/control.sock" ]; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "the stand-in control socket did not start"
  sleep 0.1
done
"$BIN" --config "$WORK/web.conf" > "$WORK/out" 2> "$WORK/err" &
PID=$!
# Ready when it printed its fingerprint (within 10 s).
i=0
until grep -q '^  [0-9a-f:]\{95\}$' "$WORK/out" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "no fingerprint printed within 10 s"
  kill -0 "$PID" 2>/dev/null || fail "portier-web exited"
  sleep 0.1
done
grep -q "https://portier.lan:$PORT/" "$WORK/out" || fail "the page's name is not printed"
grep -q "https://127.0.0.1:$PORT/" "$WORK/out" || fail "the page's address is not printed"
[ "$(stat -c %a "$WORK/state/portier-web-key.pem")" = 600 ] || fail "the key is not 0600"

URL="https://127.0.0.1:$PORT"
C="curl -sk --max-time 10"
$C -D "$WORK/h1" -o "$WORK/b1" "$URL/login"
head -1 "$WORK/h1" | grep -q " 200" || fail "GET /login: $(head -1 "$WORK/h1")"
for h in "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" \
    "X-Content-Type-Options: nosniff" "Referrer-Policy: same-origin" "X-Frame-Options: DENY" \
    "Cache-Control: no-store" "Strict-Transport-Security: max-age=31536000"; do
  tr -d '\r' < "$WORK/h1" | grep -qxF "$h" || fail "missing header: $h"
done
TOKEN=$(tr -d '\r' < "$WORK/h1" | sed -n 's/^Set-Cookie: __Host-portier-login=\([0-9a-f]\{64\}\); Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=600$/\1/p')
[ -n "$TOKEN" ] || fail "no login cookie"

code() { $C -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code -H 'Host: evil.example' "$URL/login")" = 421 ] || fail "a foreign Host was served"
[ "$(code -H "Host: portier.lan:$PORT" "$URL/login")" = 200 ] || fail "the configured name was refused"
[ "$(code "$URL/")" = 303 ] || fail "/ without a session did not send to /login"
[ "$(code -X PUT "$URL/login")" = 405 ] || fail "PUT was not refused"
O="Origin: $URL"
[ "$(code -H "$O" -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-www-form-urlencoded' --data 'code=1' "$URL/login")" = 411 ] \
  || fail "a chunked body was not refused"
[ "$(code -H "$O" -F code=1 "$URL/login")" = 415 ] || fail "a multipart body was not refused"
[ "$(code -H "$O" --data "code=$(head -c 9000 /dev/zero | tr '\0' a)" "$URL/login")" = 413 ] \
  || fail "a large body was not refused"
[ "$(code -H 'Origin: https://evil.example' -b "__Host-portier-login=$TOKEN" --data "code=ABCD-EFGH&login_token=$TOKEN" "$URL/login")" = 403 ] \
  || fail "a cross-site POST was not refused"
# The announcement: every address and the fingerprint, with method web.
FP_PRINTED=$(sed -n 's/^  \([0-9a-f:]\{95\}\)$/\1/p' "$WORK/out")
i=0
until grep -q "^web web_announce https://portier.lan:$PORT/ https://127.0.0.1:$PORT/ $FP_PRINTED\$" "$WORK/control.log" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "no web_announce: $(cat "$WORK/control.log")"
  sleep 0.1
done

login() {  # login CODE -> headers in $WORK/login
  $C -D "$WORK/login" -o /dev/null -H "$O" -b "__Host-portier-login=$TOKEN" --data "code=$1&login_token=$TOKEN" "$URL/login"
}
login ABCD-EFGH
head -1 "$WORK/login" | grep -q " 303" || fail "pairing: $(head -1 "$WORK/login")"
SESSION=$(tr -d '\r' < "$WORK/login" | sed -n 's/^Set-Cookie: __Host-portier=\([0-9a-f]\{64\}\); Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200$/\1/p')
[ -n "$SESSION" ] || fail "no session cookie: $(cat "$WORK/login")"
S="__Host-portier=$SESSION"
[ "$(code -b "$S" "$URL/")" != 303 ] || fail "the session does not open /"
$C -o "$WORK/export" -b "$S" "$URL/export"
CSRF=$(sed -n 's/.*name="csrf" value="\([0-9a-f]\{64\}\)".*/\1/p' "$WORK/export" | head -1)
[ -n "$CSRF" ] || fail "no csrf field on /export"
[ "$(code -H "$O" -b "$S" --data "x=1" "$URL/pause")" = 403 ] || fail "a POST without the CSRF token"
[ "$(code -H "$O" -b "$S" --data "csrf=$(echo "$CSRF" | tr 0-9a-f 1-9a-f0)" "$URL/pause")" = 403 ] \
  || fail "a POST with a forged CSRF token"
[ "$(code -H "$O" -b "$S" --data "csrf=$CSRF" "$URL/logout")" = 303 ] || fail "logout"
[ "$(code -b "$S" "$URL/")" = 303 ] || fail "the session outlived logout"
grep -v '^web ' "$WORK/control.log" && fail "a control request without method web"

# Wrong codes: five are heard, then the sixth must wait.
for n in 1 2 3 4 5; do
  login WRONG-CODE
  head -1 "$WORK/login" | grep -q " 403" || fail "wrong code $n: $(head -1 "$WORK/login")"
done
login WRONG-CODE
head -1 "$WORK/login" | grep -q " 429" || fail "the sixth wrong code was not held back"
tr -d '\r' < "$WORK/login" | grep -qx "Retry-After: [12]" || fail "no Retry-After"
[ "$(grep -c 'redeem_pairing WRONG-CODE' "$WORK/control.log")" = 5 ] || fail "a held-back code reached portierd"

# Without portierd: 503, and no session.
kill "$FAKE"; wait "$FAKE" 2>/dev/null || true; FAKE=
rm -f "$WORK/control.sock"
i=0
while :; do
  login ABCD-EFGH
  head -1 "$WORK/login" | grep -q " 429" || break
  i=$((i + 1)); [ $i -lt 40 ] || fail "still held back after 20 s"
  sleep 0.5
done
head -1 "$WORK/login" | grep -q " 503" || fail "pairing without portierd: $(head -1 "$WORK/login")"
grep -q '__Host-portier=' "$WORK/login" && fail "a session without portierd"

if command -v openssl > /dev/null; then
  FP=$(openssl x509 -in "$WORK/state/portier-web-cert.pem" -noout -fingerprint -sha256 | sed 's/.*=//' | tr 'A-F' 'a-f')
  grep -qx "  $FP" "$WORK/out" || fail "the printed fingerprint is not the certificate's ($FP)"
fi

kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "still running 10 s after SIGTERM"
  sleep 0.1
done
wait "$PID" || fail "exit status $? after SIGTERM"
PID=
echo "portier-web over HTTPS: OK"
