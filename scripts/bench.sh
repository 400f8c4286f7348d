#!/usr/bin/env bash
# Whole-process benchmark: ioc-sensor replaying capture files, side by side with the libpcap
# read floor (tcpdump reading and discarding) and tshark applying an equivalent name filter.
#
#   scripts/bench.sh [--size 1G] [--rounds 3] [--indicators 100000] [--seed 1]
#                    [--timeout 900] [--no-tshark] [--pcapng]
#
# Once, into ./bench-data/ (git-ignored): a realistic traffic mix and a small-packet worst
# case of about --size bytes each, and a feed of --indicators random domains plus as many
# random addresses (plus the few the mixes contain), all made by examples/gen_captures.rs
# and reproducible from --seed. Then for each file and each round every tool runs once, in
# the same order, with /usr/bin/time recording wall time, user+sys CPU and peak RSS. The
# table per file gives medians over the rounds. Raw figures are appended to
# bench-data/results.csv. With --pcapng, every tool reads the same captures written as
# pcapng (by editcap, once, beside them: what Wireshark and dumpcap write). See
# benches/README.md for what each figure means.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

SIZE=1G
ROUNDS=3
INDICATORS=100000
SEED=1
TIMEOUT=900
TSHARK=1
FORMAT=pcap

while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs a value, e.g. 1G}; shift 2 ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --indicators) INDICATORS=${2:?--indicators needs a number}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
    --no-tshark) TSHARK=0; shift ;;
    --pcapng) FORMAT=pcapng; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

[[ $SIZE =~ ^[0-9]+(\.[0-9]+)?[KMGkmg]?$ ]] || { echo "bench: --size: not a size: $SIZE (try 200M or 1G)" >&2; exit 2; }
for v in ROUNDS INDICATORS SEED TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: --${v,,}: not a number: ${!v}" >&2; exit 2; }
done
[ "$ROUNDS" -ge 1 ] || { echo "bench: --rounds must be at least 1" >&2; exit 2; }

cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=$ROOT/bench-data
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SENSOR=$TARGET/release/ioc-sensor
GEN=$TARGET/release/examples/gen_captures
mkdir -p "$DATA"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------------------ tools

ensure_tools() {
  local missing=()
  command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v timeout >/dev/null 2>&1 || missing+=(coreutils)
  if [ "$TSHARK" = 1 ] && ! command -v tshark >/dev/null 2>&1; then missing+=(tshark); fi
  if [ "$FORMAT" = pcapng ] && ! command -v editcap >/dev/null 2>&1; then missing+=(wireshark-common); fi
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "bench: missing ${missing[*]}; install them as root: apt-get install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "bench: missing ${missing[*]}; install them with your package manager" >&2; exit 1; }
  echo "bench: installing ${missing[*]}" >&2
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_tools
./scripts/setup.sh

# ---------------------------------------------------------------------------- machine

echo "== machine"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus:     $(nproc) ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "rustc:    $(rustc --version)"
echo "tcpdump:  $(tcpdump --version 2>&1 | head -1), $(tcpdump --version 2>&1 | sed -n 2p)"
[ "$TSHARK" = 1 ] && echo "tshark:   $(tshark -v 2>/dev/null | head -1)"
echo "revision: $(git describe --always --dirty 2>/dev/null || echo unknown)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; other work on the machine skews wall times)"
echo

# ------------------------------------------------------------------------------ build

echo "== build" >&2
cargo build --release --quiet
cargo build --release --quiet --example gen_captures

# ----------------------------------------------------------------------------- inputs

MIX=$DATA/mix-$SIZE-s$SEED.pcap
SMALL=$DATA/small-$SIZE-s$SEED.pcap
FEED=$DATA/feed-$INDICATORS-s$SEED.txt

# Generate $2 with the generator arguments that follow, unless it is already there.
generate() {
  local out=$1; shift
  [ -s "$out" ] && return 0
  echo "bench: writing $out" >&2
  "$GEN" "$@" "$out.part"
  mv "$out.part" "$out"
}

# Room for the captures still to write, in units of $SIZE: a capture takes about 1.05 of it,
# its pcapng copy up to 1.25 (each small packet's block is 16 bytes longer than its record).
units=0
for f in "$MIX" "$SMALL"; do
  [ -s "$f" ] || units=$(awk -v u="$units" 'BEGIN { print u + 1.05 }')
  [ "$FORMAT" = pcap ] || [ -s "${f}ng" ] || units=$(awk -v u="$units" 'BEGIN { print u + 1.25 }')
done
need_kb=$(numfmt --from=iec "${SIZE^^}" | awk -v u="$units" '{ printf "%d", $1 * u / 1024 }')
free_kb=$(df -Pk "$DATA" | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt "$need_kb" ]; then
  echo "bench: $DATA needs about $((need_kb / 1024)) MiB free for the $SIZE captures; it has $((free_kb / 1024)) MiB" >&2
  exit 1
fi
generate "$MIX" mix --mix realistic --bytes "$SIZE" --seed "$SEED"
generate "$SMALL" mix --mix small --bytes "$SIZE" --seed "$SEED"
generate "$FEED" feed --count "$INDICATORS" --seed "$SEED"
if [ "$FORMAT" = pcapng ]; then
  for capture in MIX SMALL; do
    out=${!capture}ng
    if [ ! -s "$out" ] || [ "$out" -ot "${!capture}" ]; then
      echo "bench: writing $out" >&2
      editcap -F pcapng "${!capture}" "$out.part"
      mv "$out.part" "$out"
    fi
    printf -v "$capture" '%s' "$out"
  done
fi

# tshark gets one name to look for (the first indicator of the feed, which the mixes contain),
# the sensor the whole feed.
NAME=$(grep -v -m1 '^#' "$FEED")
FILTER="dns.qry.name == \"$NAME\" || tls.handshake.extensions_server_name == \"$NAME\" || http.host == \"$NAME\""

# "packets bytes" of a capture: from capinfos, else from the sensor's summary. Cached.
counts() {
  local file=$1 cache=$1.counts
  if [ ! -s "$cache" ] || [ "$cache" -ot "$file" ]; then
    if command -v capinfos >/dev/null 2>&1; then
      capinfos -T -r -c -d -M "$file" | awk -F'\t' '{ print $2, $3 }' >"$cache"
    else
      "$SENSOR" -r "$file" -f "$FEED" -o /dev/null 2>&1 >/dev/null |
        sed -n 's/^ioc-sensor: .* file(s), \([0-9]*\) packets, \([0-9]*\) bytes.*/\1 \2/p' >"$cache"
    fi
  fi
  cat "$cache"
}

# --------------------------------------------------------------------------------- runs

RESULTS=$DATA/results.csv
[ -s "$RESULTS" ] || echo "date,revision,file,tool,round,wall_s,cpu_s,peak_rss_kb,status" >"$RESULTS"
STAMP=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
REV=$(git describe --always --dirty 2>/dev/null || echo unknown)

TOOLS=("tcpdump" "ioc-sensor read only" "ioc-sensor --workers 1" "ioc-sensor --workers 2")
[ "$TSHARK" = 1 ] && TOOLS+=("tshark")

# Run tool $1 over file $2 once; append "wall cpu rss status" to $WORK/<file>.<tool index>.
run_tool() {
  local index=$1 file=$2 log=$WORK/run.log times=$WORK/run.time
  local cmd
  case "${TOOLS[$index]}" in
    tcpdump) cmd=(tcpdump -n -r "$file" -w /dev/null) ;;
    # The sensor's own reading floor: the same run with a filter that passes nothing, so every
    # record is read (and filtered) and no packet is inspected.
    "ioc-sensor read only") cmd=("$SENSOR" -q -r "$file" -f "$FEED" -o /dev/null --workers 1 --bpf 'less 0') ;;
    "ioc-sensor --workers 1") cmd=("$SENSOR" -q -r "$file" -f "$FEED" -o /dev/null --workers 1) ;;
    "ioc-sensor --workers 2") cmd=("$SENSOR" -q -r "$file" -f "$FEED" -o /dev/null --workers 2) ;;
    tshark) cmd=(tshark -n -r "$file" -Y "$FILTER") ;;
  esac
  local status=ok
  if ! /usr/bin/time -f '%e %U %S %M' -o "$times" timeout --kill-after=10 "$TIMEOUT" "${cmd[@]}" >/dev/null 2>"$log"; then
    if grep -q 'Command exited with non-zero status 124' "$times" || grep -q 'Command terminated by signal 9' "$times"; then
      status=timeout
    else
      status=failed
      echo "bench: ${TOOLS[$index]} failed on $(basename "$file"):" >&2
      tail -5 "$log" >&2
    fi
  fi
  # The figures are on the last line (a failure adds a line before them).
  local wall user sys rss
  read -r wall user sys rss < <(tail -1 "$times")
  local cpu
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  # A killed run's CPU and memory figures are not the tool's (timeout's own, at best).
  [ "$status" = ok ] || { cpu=-; rss=-; }
  echo "$wall $cpu $rss $status" >>"$WORK/$(basename "$file").$index"
  echo "$STAMP,$REV,$(basename "$file"),${TOOLS[$index]},$round,$wall,${cpu#-},${rss#-},$status" >>"$RESULTS"
}

# The median of the numbers on standard input.
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

report() {
  local file=$1 name packets bytes
  name=$(basename "$file")
  read -r packets bytes < <(counts "$file")
  echo "== $name: $packets packets, $bytes bytes of frames ($(numfmt --to=iec "$bytes")B), medians of $ROUNDS round(s)"
  printf '%-24s %8s %8s %12s %12s %8s %8s\n' tool "wall s" "CPU s" "peak RSS MB" "packets/s" "Gbit/s" "x floor"
  local floor="" i
  for i in "${!TOOLS[@]}"; do
    local rows=$WORK/$name.$i wall cpu rss statuses
    wall=$(awk '{ print $1 }' "$rows" | median)
    cpu=$(awk '{ print $2 }' "$rows" | median)
    rss=$(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { printf "%.1f", m / 1024 }' "$rows")
    statuses=$(awk '$4 != "ok" { print $4 }' "$rows" | sort -u | paste -sd, -)
    [ -z "$floor" ] && floor=$wall
    # A run that timed out or failed has no figures worth a column: only its wall time, marked.
    awk -v tool="${TOOLS[$i]}" -v w="$wall" -v c="$cpu" -v r="$rss" -v p="$packets" -v b="$bytes" -v f="$floor" -v s="$statuses" 'BEGIN {
      ws = (w > 0) ? w : 0.001
      if (s != "")
        printf "%-24s %8.2f %8s %12s %12s %8s %8s  (%s)\n", tool, w, "-", "-", "-", "-", "-", s
      else
        printf "%-24s %8.2f %8.2f %12s %12.0f %8.2f %8.1f\n", tool, w, c, r, p / ws, b * 8 / ws / 1e9, w / ((f > 0) ? f : 0.001)
    }'
  done
  echo
}

FILES=("$MIX" "$SMALL")
# Into the page cache as read from disk, so every tool reads from memory (see the script).
source scripts/page-cache.sh
cache_as_from_disk "${FILES[@]}"
for file in "${FILES[@]}"; do
  counts "$file" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  for file in "${FILES[@]}"; do
    for i in "${!TOOLS[@]}"; do
      echo "bench: round $round/$ROUNDS: ${TOOLS[$i]} on $(basename "$file")" >&2
      run_tool "$i" "$file"
    done
  done
done

echo "feed: $(basename "$FEED"): $(grep -vc '^#' "$FEED") indicators; tshark looks for one name: $NAME"
echo
for file in "${FILES[@]}"; do
  report "$file"
done
echo "Raw figures: $RESULTS"
