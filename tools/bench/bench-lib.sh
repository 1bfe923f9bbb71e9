# Shared by tools/bench-e2e and tools/bench-footprint (sourced, not run): process bookkeeping,
# free ports, the local and cloud mosquitto brokers of a bench run, and /proc readings.
# The sourcing script sets: bench_name (prefix of its messages), certs (tools/gen-certs output),
# and keeps the array pids (every process it started and has not stopped yet).

stop_pid() {  # pid: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  pids=()
}
free_ports() {  # n: n distinct TCP ports free on 127.0.0.1, below the ephemeral range
  python3 - "$1" <<'PY'
import random, socket, sys
lo, hi = 20000, 32000
try:
    lo_eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    hi = min(hi, lo_eph)
except OSError:
    pass
ports = []
while len(ports) < int(sys.argv[1]):
    p = random.randrange(lo, hi)
    if p in ports:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        ports.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, ports)))
PY
}

wait_port() {  # port: until something listens on 127.0.0.1:port (10 s)
  local i
  for ((i = 0; i < 200; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

broker_common() {  # settings every broker of the bench shares
  cat <<CONF
per_listener_settings false
allow_anonymous true
persistence false
max_inflight_messages 64
max_queued_messages 1000000
max_queued_bytes 0
log_type error
log_type warning
log_type notice
CONF
}

# Starts local and cloud brokers for run directory $1; sets local_port tls_port plain_port
# relay_port local_pid cloud_pid. With $2 = no-cloud, only writes the cloud's configuration
# (start_cloud starts it). Ports are probed free, but another process may take one before
# mosquitto binds it: then it tries again with other ports.
start_brokers() {
  local dir=$1 mode=${2:-} attempt
  for attempt in 1 2 3; do
    read -r local_port tls_port plain_port relay_port < <(free_ports 4)
    { broker_common; printf 'upgrade_outgoing_qos true\nlistener %s 127.0.0.1\n' "$local_port"; } > "$dir/local.conf"
    {
      broker_common
      printf 'listener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n' \
        "$tls_port" "$certs/ca.crt" "$certs/server.crt" "$certs/server.key"
      printf 'listener %s 127.0.0.1\n' "$plain_port"
    } > "$dir/cloud.conf"
    mosquitto -c "$dir/local.conf" >"$dir/local.log" 2>&1 &
    local_pid=$!
    pids+=("$local_pid")
    cloud_pid=""
    if [[ $mode == no-cloud ]]; then
      if wait_port "$local_port" && kill -0 "$local_pid" 2>/dev/null; then return 0; fi
    elif start_cloud "$dir" && wait_port "$local_port" && kill -0 "$local_pid" 2>/dev/null; then
      return 0
    fi
    echo "$bench_name: brokers did not start (attempt $attempt):" >&2
    cat "$dir/local.log" "$dir/cloud.log" >&2
    stop_all
  done
  return 1
}
start_cloud() {  # dir: the cloud broker of start_brokers' configuration; sets cloud_pid
  local dir=$1
  mosquitto -c "$dir/cloud.conf" >>"$dir/cloud.log" 2>&1 &
  cloud_pid=$!
  pids+=("$cloud_pid")
  wait_port "$tls_port" && wait_port "$plain_port" && kill -0 "$cloud_pid" 2>/dev/null
}

proc_hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
proc_anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
proc_cpu_ms() {  # utime+stime in ms, all threads
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
proc_ctxsw() {  # voluntary + involuntary context switches, all threads
  cat "/proc/$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ {n += $2} END {print n + 0}'
}
