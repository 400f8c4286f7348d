#!/usr/bin/env bash
# Compare builds of the sensor on one capture in alternating runs: old, new, old, new... (or,
# with more builds, each in turn every round). On a shared machine whose speed drifts from
# minute to minute, the ratio within each round is steadier than either time alone.
#
#   scripts/compare.sh [--rounds 11] [--workers 1] [--feed FILE] CAPTURE OLD_BINARY NEW_BINARY...
#
# The time of a run is the sensor's own (its summary line: first packet to last record
# written; the feed load is left out). Prints the median and fastest time of each build and,
# for each new build, the median ratio new / old with its quartiles: below 1 is faster (the
# fastest run is the one least disturbed by the machine's other guests). The summary gives
# hundredths of a second, so use a capture that takes a second or more. The output of the
# runs goes to /dev/null; check that the builds write the same records separately (for
# example `--events dns,tls,http,quic,flow,alert -o FILE`, then `sort FILE | md5sum`).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

ROUNDS=11
WORKERS=1
FEED=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --workers) WORKERS=${2:?--workers needs a number}; shift 2 ;;
    --feed) FEED=${2:?--feed needs a file}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "compare: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || { usage >&2; exit 2; }
CAPTURE=$1
shift
BUILDS=("$@")
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
# Into the page cache first, as read from disk: the first run would otherwise read the capture
# from disk, and a capture just written would be read from 4 KB pages (see page-cache.sh).
source "$(dirname "$0")/page-cache.sh"
cache_as_from_disk "$CAPTURE"
if [ -z "$FEED" ]; then
  FEED=$SCRATCH/feed.txt
  echo "c2.example.invalid" > "$FEED"
fi

# The replay time of one run, in seconds, from the summary line ("... in 0.47 s (...").
replay_time() {
  "$1" --workers "$WORKERS" -r "$CAPTURE" -f "$FEED" -o /dev/null 2>&1 |
    sed -n 's/.* in \([0-9.]*\) s (.*/\1/p' || true
}

for round in $(seq "$ROUNDS"); do
  times=()
  for build in "${BUILDS[@]}"; do
    t=$(replay_time "$build")
    if [ -z "$t" ]; then
      echo "compare: round $round: $build gave no summary time (run it by hand to see why)" >&2
      exit 1
    fi
    times+=("$t")
  done
  echo "compare: round $round/$ROUNDS: ${times[*]} s (builds in the order given)" >&2
  echo "${times[*]}"
done > "$SCRATCH/rounds"

# The value at quantile $2 (0 to 1) of a sorted column in file $1.
quantile() {
  awk -v q="$2" '{ v[NR] = $1 } END { i = int(q * (NR - 1) + 0.5) + 1; print v[i] }' "$1"
}
for i in "${!BUILDS[@]}"; do
  column=$((i + 1))
  cut -d' ' -f"$column" "$SCRATCH/rounds" | sort -n > "$SCRATCH/times"
  if [ "$i" -eq 0 ]; then
    name=old
  elif [ ${#BUILDS[@]} -eq 2 ]; then
    name=new
  else
    name=new$column
  fi
  echo "$name (${BUILDS[$i]}): median $(quantile "$SCRATCH/times" 0.5) s," \
    "fastest $(head -1 "$SCRATCH/times") s"
  if [ "$i" -gt 0 ]; then
    awk -v c="$column" '{ printf "%.4f\n", $c / $1 }' "$SCRATCH/rounds" | sort -n > "$SCRATCH/ratio"
    echo "$name / old: median $(quantile "$SCRATCH/ratio" 0.5)," \
      "quartiles $(quantile "$SCRATCH/ratio" 0.25)-$(quantile "$SCRATCH/ratio" 0.75), $ROUNDS rounds"
  fi
done
