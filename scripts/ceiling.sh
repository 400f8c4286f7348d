#!/usr/bin/env bash
# The most two workers can give on this machine: one capture replayed by one worker, by two
# workers, and by two one-worker processes at once, alternating, round by round.
#
#   scripts/ceiling.sh [--rounds 21] [--feed FILE] CAPTURE
#
# Two processes that each replay the whole capture with one worker share nothing but the
# machine: its caches, its memory and whatever else runs on it. Their speed-up over one such
# process (twice the packets in the time the slower of the two took) is what a perfect
# division of the work between two cores would give, with no cost for dividing it: no design
# of the sensor's two workers can do better. Issue #5 asks two workers for 1.8x one; this
# measures what the machine allows, in the same rounds as the sensor's own figure.
#
# Every run is timed by the shell (wall and CPU: user + system, to the millisecond; the CPU
# time as the kernel accounts it, in ticks: use a capture that takes a few tenths of a
# second or more with one worker), start-up included. The feed is one line
# unless --feed is given, so that loading it does not count. Prints the median times, then
# per round and as medians with quartiles (the range with fewer than 5 rounds):
#   - two workers: one worker's wall time over two workers';
#   - two processes: twice one worker's wall time over the slower process's;
#   - two workers' share of what two processes reach.
# The capture is put in the page cache first, as read from disk (scripts/page-cache.sh).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

ROUNDS=21
FEED=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --feed) FEED=${2:?--feed needs a file}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "ceiling: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ ]] && [ "$ROUNDS" -ge 1 ] || { echo "ceiling: --rounds: not a number of at least 1: $ROUNDS" >&2; exit 2; }
[ -r "$1" ] || { echo "ceiling: cannot read $1" >&2; exit 2; }
[ -z "$FEED" ] || [ -r "$FEED" ] || { echo "ceiling: cannot read $FEED" >&2; exit 2; }
# Absolute, for the paths stay right after the cd below.
CAPTURE=$(realpath -- "$1")
[ -z "$FEED" ] || FEED=$(realpath -- "$FEED")

cd "$(dirname "$0")/.."
SENSOR=${CARGO_TARGET_DIR:-$PWD/target}/release/ioc-sensor
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "== build" >&2
cargo build --release --quiet
if [ -z "$FEED" ]; then
  FEED=$WORK/feed.txt
  echo "c2.example.invalid" >"$FEED"
fi
source scripts/page-cache.sh
cache_as_from_disk "$CAPTURE"

# Replay the capture with $1 workers; "wall cpu" into $2.
run() {
  local TIMEFORMAT='%3R %3U %3S'
  { time "$SENSOR" -q -r "$CAPTURE" -f "$FEED" -o /dev/null --workers "$1" 2>"$WORK/log.$2"; } \
    2>"$WORK/time.$2" ||
    { echo "ceiling: the sensor failed on $CAPTURE:" >&2; tail -5 "$WORK/log.$2" >&2; exit 1; }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$WORK/time.$2" >"$WORK/$2"
}

# One line per round: one worker, two workers, two processes (each: wall cpu).
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  run 1 one
  run 2 two
  run 1 first &
  first=$!
  run 1 second &
  second=$!
  # Both waited for before failing: the other must not run on after its scratch is gone.
  failed=0
  wait "$first" || failed=1
  wait "$second" || failed=1
  [ "$failed" -eq 0 ] || exit 1
  echo "$(cat "$WORK/one") $(cat "$WORK/two") $(cat "$WORK/first") $(cat "$WORK/second")" >>"$WORK/rounds"
done

awk -v rounds="$ROUNDS" -v capture="$(basename "$CAPTURE")" '
function median(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function quartiles(a, n,   lo, hi) {
  median(a, n)
  lo = a[int((n - 1) / 4) + 1]; hi = a[n - int((n - 1) / 4)]
  return sprintf("%.2f-%.2f", lo, hi)
}
function copy(src, dst, n,   i) { for (i = 1; i <= n; i++) dst[i] = src[i] }
{
  n++
  one_wall[n] = $1; one_cpu[n] = $2; two_wall[n] = $3; two_cpu[n] = $4
  slower = $5 > $7 ? $5 : $7
  pair_wall[n] = slower; pair_cpu[n] = ($6 + $8) / 2
  workers[n] = $3 > 0 ? $1 / $3 : 0
  processes[n] = slower > 0 ? 2 * $1 / slower : 0
  share[n] = processes[n] > 0 ? workers[n] / processes[n] : 0
  per_round = per_round sprintf("  %2d: one %.3f s, two workers %.3f s (%.2fx), two processes %.3f s (%.2fx)\n", n, $1, $3, workers[n], slower, processes[n])
}
END {
  printf "== %s, medians of %d rounds\n", capture, rounds
  printf "%-34s %8s %8s\n", "run", "wall s", "CPU s"
  copy(one_wall, t, n); w = median(t, n); copy(one_cpu, t, n); c = median(t, n)
  printf "%-34s %8.3f %8.3f\n", "--workers 1", w, c
  copy(two_wall, t, n); w = median(t, n); copy(two_cpu, t, n); c = median(t, n)
  printf "%-34s %8.3f %8.3f\n", "--workers 2", w, c
  copy(pair_wall, t, n); w = median(t, n); copy(pair_cpu, t, n); c = median(t, n)
  printf "%-34s %8.3f %8.3f\n", "two processes (slower; CPU each)", w, c
  printf "speed-up over one worker (median of the rounds, quartiles):\n"
  copy(workers, t, n); m = median(t, n); q = quartiles(t, n)
  printf "  two workers                  %.2fx (%s)\n", m, q
  copy(processes, t, n); m = median(t, n); q = quartiles(t, n)
  printf "  two processes (the ceiling)  %.2fx (%s)\n", m, q
  copy(share, t, n); m = median(t, n); q = quartiles(t, n)
  printf "  two workers / two processes  %.2f (%s)\n", m, q
  printf "per round:\n%s", per_round
}' "$WORK/rounds"
