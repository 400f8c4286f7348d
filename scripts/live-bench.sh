#!/usr/bin/env bash
# Live-capture benchmark: a realistic traffic mix replayed into a veth pair at increasing
# rates, with ioc-sensor capturing on the other end, and tcpdump on the same interface at the
# same rates as the capture floor.
#
#   sudo scripts/live-bench.sh [--size 300M] [--seed 1] [--rates "100 200 400 800 1600 topspeed"]
#                              [--buffer-size 67108864] [--snaplen BYTES] [--workers N]
#                              [--mtu 1500] [--keep]
#
# Once, into ./bench-data/ (git-ignored): the mix (examples/gen_captures.rs `mix`, about
# --size bytes, reproducible from --seed). Per run: the matching benchmark feed (`feed`, 1000
# indicators, some of which the mix contains) plus the canary domain below.
#
# For each rate (Mbit/s for tcpreplay --mbps, or `topspeed`):
#   1. the sensor (release build) runs in its own network namespace on one end of a veth pair
#      with --events stats --stats-interval 1, --buffer-size (and --snaplen); tcpreplay sends
#      the mix into the other end. From 0.5 s before the replay to 0.5 s after it, a Python
#      helper in the sending namespace sends a DNS query for cN.canary.live-bench.example
#      every 50 ms (each from its own source port: a new flow, so a new alert each time),
#      notes the send time, and tails eve.json noting when each canary's alert line appears.
#      Latency = line in the file - query sent (one process, one clock), reported for the
#      canaries sent during the replay ("load") and for those sent while only the canaries
#      flowed ("idle": the link carried one packet every 50 ms). Kernel drops and queue-full
#      drops come from the exit summary.
#   2. tcpdump -i VETH -w /dev/null with the same buffer (-B) and snap length, same replay:
#      its kernel drops are what libpcap alone loses at that rate on this machine.
# A table is printed at the end; raw figures are appended to bench-data/live-results.csv.
#
# Needs root, iproute2, tcpreplay, tcpdump and python3. --buffer-size 0 keeps libpcap's
# default. --keep leaves the work directory (EVE files, logs, per-canary latencies).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

SIZE=300M
SEED=1
RATES="100 200 400 800 1600 topspeed"
BUFFER=67108864
WORKERS=
MTU=1500
SNAPLEN=
KEEP=0

while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs a value, e.g. 300M}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    --rates) RATES=${2:?--rates needs a list, e.g. \"100 400 topspeed\"}; shift 2 ;;
    --buffer-size) BUFFER=${2:?--buffer-size needs bytes}; shift 2 ;;
    --workers) WORKERS=${2:?--workers needs a number}; shift 2 ;;
    --snaplen) SNAPLEN=${2:?--snaplen needs bytes}; shift 2 ;;
    --mtu) MTU=${2:?--mtu needs a number}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "live-bench: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

[[ $SIZE =~ ^[0-9]+[KMGkmg]?$ ]] || { echo "live-bench: --size: not a size: $SIZE (try 300M)" >&2; exit 2; }
for v in SEED BUFFER MTU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "live-bench: --${v,,}: not a number: ${!v}" >&2; exit 2; }
done
[ -z "$WORKERS" ] || [[ $WORKERS =~ ^[1-9][0-9]*$ ]] || { echo "live-bench: --workers: not a number: $WORKERS" >&2; exit 2; }
[ -z "$SNAPLEN" ] || [[ $SNAPLEN =~ ^[1-9][0-9]*$ ]] || { echo "live-bench: --snaplen: not a number: $SNAPLEN" >&2; exit 2; }
for r in $RATES; do
  [[ $r =~ ^[0-9]+(\.[0-9]+)?$ || $r == topspeed ]] || { echo "live-bench: --rates: not a rate: $r (Mbit/s or topspeed)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "live-bench: run as root (network namespaces, capture)" >&2; exit 2; }
missing=()
for tool in ip tcpreplay tcpdump python3 cargo; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "live-bench: missing: ${missing[*]} (Debian: apt-get install iproute2 tcpreplay tcpdump python3)" >&2
  exit 2
fi

cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=$ROOT/bench-data
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SENSOR=$TARGET/release/ioc-sensor
GEN=$TARGET/release/examples/gen_captures
mkdir -p "$DATA"
WORK=$(mktemp -d)
TAG=lb$$
NS_TX=$TAG-tx
NS_RX=$TAG-rx
IF_TX=${TAG}t
IF_RX=${TAG}r
PIDS=()

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  ip netns del "$NS_TX" 2> /dev/null || true
  ip netns del "$NS_RX" 2> /dev/null || true
  if [ "$KEEP" = 1 ]; then echo "live-bench: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "live-bench: $*" >&2; }

# ------------------------------------------------------------------------------ inputs

log "building (release)"
cargo build --release --quiet --bin ioc-sensor --example gen_captures

MIX=$DATA/mix-$SIZE-s$SEED.pcap
if [ ! -s "$MIX" ]; then
  log "generating $MIX"
  "$GEN" mix --bytes "$SIZE" --seed "$SEED" "$MIX.tmp"
  mv "$MIX.tmp" "$MIX"
fi
FEED=$WORK/feed.txt
"$GEN" feed --count 1000 --seed "$SEED" "$FEED" > /dev/null
printf '\n# Canary: DNS queries sent by live-bench.sh to measure alert latency\ncanary.live-bench.example\n' >> "$FEED"
MIX_PACKETS=$(capinfos -c -M "$MIX" 2> /dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}' || true)

# ------------------------------------------------------------------------------ network

ip netns add "$NS_TX"
ip netns add "$NS_RX"
ip link add "$IF_TX" netns "$NS_TX" mtu "$MTU" type veth peer name "$IF_RX" netns "$NS_RX" mtu "$MTU"
for side in "$NS_TX $IF_TX 198.18.0.1/30" "$NS_RX $IF_RX 198.18.0.2/30"; do
  read -r ns dev addr <<< "$side"
  ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6' 2> /dev/null || true
  ip -n "$ns" addr add "$addr" dev "$dev"
  ip -n "$ns" link set "$dev" up
  ip -n "$ns" link set lo up
done
for _ in $(seq 50); do
  ip -n "$NS_RX" -o link show "$IF_RX" | grep -q 'state UP' && break
  sleep 0.1
done

# ------------------------------------------------------------------------------ helpers

# Canary sender and EVE tailer: sends until STOP exists, then waits up to 3 s for the last
# alerts; writes one line per canary to stdout: name, send time, latency in ms or "lost".
cat > "$WORK/canary.py" << 'EOF'
import json, os, socket, struct, sys, threading, time

eve, stop = sys.argv[1], sys.argv[2]
sent, seen = {}, {}
stopped = [float("inf")]

def query(name):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)

def tail():
    pos, buf = 0, b""
    while True:
        try:
            with open(eve, "rb") as f:
                f.seek(pos)
                data = f.read()
        except FileNotFoundError:
            data = b""
        now = time.time()
        if data:
            pos += len(data)
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if b"canary.live-bench.example" in line and b'"event_type":"alert"' in line:
                    name = json.loads(line)["alert"]["context"].get("observed", "")
                    seen.setdefault(name.split(".")[0], now)
        if os.path.exists(stop) and (len(seen) >= len(sent) or time.time() - stopped[0] > 3):
            return
        time.sleep(0.002)

t = threading.Thread(target=tail)
t.start()
i = 0
while not os.path.exists(stop):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A source port of its own: a new flow each time (one alert per flow and indicator).
    s.bind(("198.18.0.1", 20000 + i % 40000))
    sent[f"c{i}"] = time.time()
    s.sendto(query(f"c{i}.canary.live-bench.example"), ("198.18.0.2", 53))
    s.close()
    i += 1
    time.sleep(0.05)
stopped[0] = time.time()
t.join()
for k, t0 in sent.items():
    print(f"{k} {t0:.6f} " + (f"{(seen[k] - t0) * 1000:.1f}" if k in seen else "lost"))
EOF

# Canary latencies of a canary file: those sent between FROM and TO (load), and the others
# (idle). Prints "load_sent load_alerted median p99 max idle_sent idle_alerted idle_median idle_max".
cat > "$WORK/latency.py" << 'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
lo, hi = float(sys.argv[2]), float(sys.argv[3])
def stats(rows):
    lat = sorted(float(r[2]) for r in rows if r[2] != "lost")
    pct = lambda p: f"{lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))]:.0f}" if lat else "-"
    return [str(len(rows)), str(len(lat)), pct(50), pct(99), pct(100)]
load = stats([r for r in rows if lo <= float(r[1]) <= hi])
idle = stats([r for r in rows if not lo <= float(r[1]) <= hi])
print(" ".join(load + [idle[0], idle[1], idle[2], idle[4]]))
EOF

# tcpreplay at RATE into the sending end; prints "packets actual_mbps seconds".
replay() {
  local rate=$1 how out
  if [ "$rate" = topspeed ]; then how=(--topspeed); else how=(--mbps "$rate"); fi
  out=$(ip netns exec "$NS_TX" tcpreplay -i "$IF_TX" "${how[@]}" "$MIX" 2>&1) || { echo "$out" >&2; return 1; }
  local pk mbps secs
  pk=$(awk '/Successful packets:/ {print $3}' <<< "$out")
  mbps=$(awk '/^Rated:/ {for (i = 1; i <= NF; i++) if ($i == "Mbps,") print $(i-1)}' <<< "$out")
  secs=$(awk '/^Actual:/ {for (i = 1; i <= NF; i++) if ($i == "seconds") print $(i-1)}' <<< "$out")
  echo "$pk ${mbps:-?} ${secs:-?}"
}

# A number after LABEL in a text.
after() { grep -o "$1 [0-9]*" <<< "$2" | head -1 | awk '{print $NF}'; }

wait_file() {
  for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
  return 1
}

# ------------------------------------------------------------------------------ runs

CSV=$DATA/live-results.csv
[ -s "$CSV" ] || echo "date,size,seed,buffer,snaplen,rate,sent,actual_mbps,kernel_packets,kernel_drops,queue_drops,load_canaries,load_alerted,load_median_ms,load_p99_ms,load_max_ms,idle_canaries,idle_alerted,idle_median_ms,idle_max_ms,tcpdump_received,tcpdump_dropped" > "$CSV"
SENSOR_OPTS=(--events stats --stats-interval 1)
[ "$BUFFER" -gt 0 ] && SENSOR_OPTS+=(--buffer-size "$BUFFER")
[ -n "$WORKERS" ] && SENSOR_OPTS+=(--workers "$WORKERS")
[ -n "$SNAPLEN" ] && SENSOR_OPTS+=(--snaplen "$SNAPLEN")
TD_OPTS=()
[ "$BUFFER" -gt 0 ] && TD_OPTS+=(-B $((BUFFER / 1024)))
[ -n "$SNAPLEN" ] && TD_OPTS+=(-s "$SNAPLEN")
ROWS=()

log "mix: $MIX (${MIX_PACKETS:-?} packets); buffer ${BUFFER} bytes; rates: $RATES"
for rate in $RATES; do
  # 1. The sensor.
  eve=$WORK/eve-$rate.json
  stop=$WORK/stop-$rate
  ip netns exec "$NS_RX" "$SENSOR" -i "$IF_RX" -f "$FEED" -o "$eve" "${SENSOR_OPTS[@]}" 2> "$WORK/sensor-$rate.err" &
  spid=$!
  PIDS+=("$spid")
  wait_file "$eve" || { log "sensor did not start: $(cat "$WORK/sensor-$rate.err")"; exit 1; }
  ip netns exec "$NS_TX" python3 "$WORK/canary.py" "$eve" "$stop" > "$WORK/canary-$rate.txt" &
  cpid=$!
  PIDS+=("$cpid")
  sleep 0.5
  t0=$(date +%s.%N)
  read -r sent mbps secs < <(replay "$rate")
  t1=$(date +%s.%N)
  sleep 0.5
  touch "$stop"
  wait "$cpid" || true
  kill -TERM "$spid"
  wait "$spid" || log "sensor exited with status $? at $rate"
  summary=$(cat "$WORK/sensor-$rate.err")
  kp=$(after "kernel saw" "$summary")
  kd=$(after "kernel dropped" "$summary")
  qd=$(after "queue-full drops" "$summary")
  read -r c_sent c_seen med p99 max i_sent i_seen i_med i_max < <(python3 "$WORK/latency.py" "$WORK/canary-$rate.txt" "$t0" "$t1")

  # 2. tcpdump, same rate, same buffer.
  ip netns exec "$NS_RX" tcpdump -i "$IF_RX" -w /dev/null "${TD_OPTS[@]}" 2> "$WORK/tcpdump-$rate.err" &
  tpid=$!
  PIDS+=("$tpid")
  for _ in $(seq 100); do grep -q listening "$WORK/tcpdump-$rate.err" && break; sleep 0.05; done
  sleep 0.3
  read -r _ _ _ < <(replay "$rate")
  sleep 0.5
  kill -INT "$tpid"
  wait "$tpid" || true
  td=$(cat "$WORK/tcpdump-$rate.err")
  t_recv=$(grep -o '[0-9]* packets received by filter' <<< "$td" | awk '{print $1}')
  t_drop=$(grep -o '[0-9]* packets dropped by kernel' <<< "$td" | awk '{print $1}')

  echo "$(date -u +%FT%TZ),$SIZE,$SEED,$BUFFER,${SNAPLEN:-65535},$rate,$sent,$mbps,$kp,$kd,$qd,$c_sent,$c_seen,$med,$p99,$max,$i_sent,$i_seen,$i_med,$i_max,$t_recv,$t_drop" >> "$CSV"
  ROWS+=("$rate|$mbps|$sent|$kp|$kd|$qd|$c_seen/$c_sent|$med|$p99|$max|$i_seen/$i_sent|$i_med|$i_max|$t_recv|$t_drop")
  log "$rate: sent $sent at $mbps Mbit/s; sensor kernel drops $kd, queue drops $qd; alert latency under load: median $med ms, p99 $p99 ms; idle: median $i_med ms; tcpdump drops $t_drop"
done

# ------------------------------------------------------------------------------ table

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f%%", 100 * a / b; else print "-" }'; }
echo
echo "ioc-sensor live capture: $(basename "$MIX") (${MIX_PACKETS:-?} packets), buffer $BUFFER bytes, snaplen ${SNAPLEN:-65535}, $(nproc) CPUs, $(uname -r)"
echo
echo "| rate Mbit/s | actual | packets sent | kernel saw | kernel drops | queue drops | canaries alerted (load) | latency median / p99 / max ms (load) | canaries alerted (idle) | latency median / max ms (idle) | tcpdump received | tcpdump drops |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
  IFS='|' read -r rate mbps sent kp kd qd can med p99 max ican imed imax tr tdp <<< "$row"
  echo "| $rate | $mbps | $sent | $kp | $kd ($(pct "$kd" "$kp")) | $qd ($(pct "$qd" "$kp")) | $can | $med / $p99 / $max | $ican | $imed / $imax | $tr | $tdp ($(pct "$tdp" "$tr")) |"
done
