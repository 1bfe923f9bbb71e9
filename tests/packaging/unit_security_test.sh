#!/usr/bin/env bash
# The systemd units' sandbox must not regress: systemd-analyze security --offline=yes scores
# each unit's exposure (0 to 10; the stock unit without a sandbox is 9.6) and fails above the
# threshold. Both units scored 1.4 and 1.3 when written (docs/VENDORS.md); deb_install_test.sh
# runs systemd-analyze verify on the installed units. Exit 77 (skipped) without systemd-analyze.
# Usage: unit_security_test.sh SOURCE_DIR [THRESHOLD]   (THRESHOLD: 2.0 by default)
set -euo pipefail
src=$(cd "$1" && pwd)
threshold=${2:-2.0}

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze is missing (package systemd)"
  exit 77
fi
if ! systemd-analyze security --help 2>&1 | grep -q -- '--threshold'; then
  echo "SKIPPED: this systemd-analyze has no security --threshold (systemd 250 or later has)"
  exit 77
fi

# --threshold is on systemd's internal 0-100 scale: the printed level times 10 (1.5 is 15).
limit=$(awk -v t="$threshold" 'BEGIN { printf "%d", t * 10 }')
status=0
for unit in portierd.service portier-web.service; do
  out=$(systemd-analyze security --offline=yes --threshold="$limit" --no-pager \
    "$src/gateway/packaging/$unit" 2>&1) && rc=0 || rc=$?
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
  if [ -z "$score" ]; then
    echo "$out"
    echo "FAIL: $unit: no exposure level in systemd-analyze's output"
    status=1
  elif [ "$rc" -ne 0 ]; then
    grep '✗' <<<"$out" || true
    echo "FAIL: $unit: exposure $score is above $threshold"
    status=1
  else
    echo "$unit: exposure $score (at most $threshold)"
  fi
done
exit "$status"
