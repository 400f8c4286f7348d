#!/usr/bin/env bash
# Compare two builds of the sensor on one capture in alternating pairs of runs: old, new,
# old, new... On a shared machine whose speed drifts from minute to minute, the ratio within
# each pair is steadier than either time alone.
#
#   scripts/compare.sh [--rounds 11] [--workers 1] [--feed FILE] CAPTURE OLD_BINARY NEW_BINARY
#
# The time of a run is the sensor's own (its summary line: first packet to last record
# written; the feed load is left out). Prints the median time of each build and the median
# ratio new / old with its quartiles: below 1 is faster. The summary gives hundredths of a
# second, so use a capture that takes a second or more. The output of the runs goes to
# /dev/null; check that both builds write the same records separately (for example
# `--events dns,tls,http,quic,flow,alert -o FILE`, then `sort FILE | md5sum`).
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
[ $# -eq 3 ] || { usage >&2; exit 2; }
CAPTURE=$1 OLD=$2 NEW=$3
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
# Into the page cache first: the first run would otherwise read the capture from disk (and a
# VM may drop cached files between two sessions of measuring).
cat "$CAPTURE" > /dev/null
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
  old=$(replay_time "$OLD")
  new=$(replay_time "$NEW")
  if [ -z "$old" ] || [ -z "$new" ]; then
    echo "compare: round $round: a run gave no summary time (run it by hand to see why)" >&2
    exit 1
  fi
  echo "compare: round $round/$ROUNDS: old $old s, new $new s" >&2
  echo "$old $new"
done > "$SCRATCH/pairs"

# The value at quantile $2 (0 to 1) of a sorted column in file $1.
quantile() {
  awk -v q="$2" '{ v[NR] = $1 } END { i = int(q * (NR - 1) + 0.5) + 1; print v[i] }' "$1"
}
cut -d' ' -f1 "$SCRATCH/pairs" | sort -n > "$SCRATCH/old"
cut -d' ' -f2 "$SCRATCH/pairs" | sort -n > "$SCRATCH/new"
awk '{ printf "%.4f\n", $2 / $1 }' "$SCRATCH/pairs" | sort -n > "$SCRATCH/ratio"
echo "old: median $(quantile "$SCRATCH/old" 0.5) s"
echo "new: median $(quantile "$SCRATCH/new" 0.5) s"
echo "new / old: median $(quantile "$SCRATCH/ratio" 0.5)," \
  "quartiles $(quantile "$SCRATCH/ratio" 0.25)-$(quantile "$SCRATCH/ratio" 0.75), $ROUNDS pairs"
