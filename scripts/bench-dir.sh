#!/usr/bin/env bash
# Directory benchmark: ioc-sensor replaying a directory of many small captures against the
# same packets in one file, side by side, with one and two workers.
#
#   scripts/bench-dir.sh [--size 200M] [--packets 30] [--rounds 5] [--indicators 100000]
#                        [--seed 1]
#
# Once, into ./bench-data/ (git-ignored): the realistic mix of about --size bytes and the feed
# (the same files as scripts/bench.sh makes), and the mix cut into files of --packets packets
# each (examples/gen_captures.rs split). Every file is read once first so that all runs find
# them in the page cache (the mix as read from disk, scripts/page-cache.sh; the small files
# are copied out with read(), whatever the size of the pages that hold them). Then each round
# runs, in this order, the one file and the directory with --workers 1, then both with
# --workers 2, timing each with /usr/bin/time, and last the kernel's floor: the one file and
# every file of the directory opened, read and closed by a program that does nothing else
# (examples/read_floor.rs). Prints the median wall and CPU times and the directory's time
# over the file's: the packets are the same, so that ratio is the ratio of the time per
# packet. The floor's difference is what opening, reading and closing each small file costs
# the kernel before any reader has looked at a packet: it is printed per file and per packet.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

SIZE=200M
PACKETS=30
ROUNDS=5
INDICATORS=100000
SEED=1
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=${2:?--size needs a value, e.g. 200M}; shift 2 ;;
    --packets) PACKETS=${2:?--packets needs a number}; shift 2 ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    --indicators) INDICATORS=${2:?--indicators needs a number}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-dir: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $SIZE =~ ^[0-9]+(\.[0-9]+)?[KMGkmg]?$ ]] || { echo "bench-dir: --size: not a size: $SIZE" >&2; exit 2; }
for v in PACKETS ROUNDS INDICATORS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench-dir: --${v,,}: not a number: ${!v}" >&2; exit 2; }
done
[ "$PACKETS" -ge 1 ] && [ "$ROUNDS" -ge 1 ] || { echo "bench-dir: --packets and --rounds must be at least 1" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench-dir: needs /usr/bin/time (Debian package: time)" >&2; exit 1; }

cd "$(dirname "$0")/.."
DATA=$PWD/bench-data
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
SENSOR=$TARGET/release/ioc-sensor
GEN=$TARGET/release/examples/gen_captures
FLOOR=$TARGET/release/examples/read_floor
mkdir -p "$DATA"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== build" >&2
cargo build --release --quiet
cargo build --release --quiet --example gen_captures --example read_floor

MIX=$DATA/mix-$SIZE-s$SEED.pcap
FEED=$DATA/feed-$INDICATORS-s$SEED.txt
PARTS=$DATA/mix-$SIZE-s$SEED.parts-$PACKETS
# The mix, then its parts: about twice --size on disk.
need_kb=$(numfmt --from=iec "${SIZE^^}" | awk '{ printf "%d", $1 * 2.1 / 1024 }')
free_kb=$(df -Pk "$DATA" | awk 'NR == 2 { print $4 }')
if { [ ! -s "$MIX" ] || [ ! -d "$PARTS" ]; } && [ "$free_kb" -lt "$need_kb" ]; then
  echo "bench-dir: $DATA needs about $((need_kb / 1024)) MiB free; it has $((free_kb / 1024)) MiB" >&2
  exit 1
fi
[ -s "$MIX" ] || { echo "bench-dir: writing $MIX" >&2; "$GEN" mix --mix realistic --bytes "$SIZE" --seed "$SEED" "$MIX.part"; mv "$MIX.part" "$MIX"; }
[ -s "$FEED" ] || { echo "bench-dir: writing $FEED" >&2; "$GEN" feed --count "$INDICATORS" --seed "$SEED" "$FEED.part"; mv "$FEED.part" "$FEED"; }
# Parts older than the mix were cut from an earlier one.
if [ -d "$PARTS" ] && [ "$MIX" -nt "$PARTS" ]; then rm -rf "$PARTS"; fi
if [ ! -d "$PARTS" ]; then
  echo "bench-dir: writing $PARTS/" >&2
  rm -rf "$PARTS.part"
  "$GEN" split --packets "$PACKETS" "$MIX" "$PARTS.part"
  mv "$PARTS.part" "$PARTS"
fi
FILES=$(find "$PARTS" -name '*.pcap' | wc -l)
source scripts/page-cache.sh
cache_as_from_disk "$MIX"
find "$PARTS" -name '*.pcap' -exec cat {} + >/dev/null

# Run the sensor over $2 with $1 workers; append "wall cpu" to $WORK/<label>.
run() {
  local workers=$1 input=$2 label=$3
  /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
    "$SENSOR" -q -r "$input" -f "$FEED" -o /dev/null --workers "$workers" 2>"$WORK/log" ||
    { echo "bench-dir: the sensor failed on $input:" >&2; tail -5 "$WORK/log" >&2; exit 1; }
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$WORK/time" >>"$WORK/$label"
}

# The kernel's floor: every capture file of $1 (a file or a directory) opened, read into one
# reused buffer and closed, by a program that does nothing else (examples/read_floor.rs);
# appends its CPU seconds to $WORK/<label>.
floor() {
  "$FLOOR" "$1" | sed -n 's/.* bytes, \([0-9.]*\) s of CPU$/\1/p' >>"$WORK/$2"
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS" >&2
  for workers in 1 2; do
    run "$workers" "$MIX" "file.$workers"
    run "$workers" "$PARTS" "dir.$workers"
  done
  floor "$MIX" floor.file
  floor "$PARTS" floor.dir
done

echo "== $(basename "$MIX") against $FILES files of $PACKETS packets, medians of $ROUNDS rounds"
printf '%-10s %-8s %8s %8s %16s\n' input workers "wall s" "CPU s" "x one file"
for workers in 1 2; do
  file_wall=$(cut -d' ' -f1 "$WORK/file.$workers" | median)
  for label in file dir; do
    wall=$(cut -d' ' -f1 "$WORK/$label.$workers" | median)
    cpu=$(cut -d' ' -f2 "$WORK/$label.$workers" | median)
    printf '%-10s %-8s %8s %8s %16s\n' "$label" "$workers" "$wall" "$cpu" \
      "$(awk -v a="$wall" -v b="$file_wall" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
  done
done
for floor in floor.file floor.dir; do
  [ -s "$WORK/$floor" ] || { echo "bench-dir: examples/read_floor printed no CPU time" >&2; exit 1; }
done
floor_file=$(median <"$WORK/floor.file")
floor_dir=$(median <"$WORK/floor.dir")
echo "kernel floor (open, read, close; CPU s): one file $floor_file, directory $floor_dir:" \
  "$(awk -v f="$floor_file" -v d="$floor_dir" -v n="$FILES" -v p="$PACKETS" \
    'BEGIN { printf "%.1f us more per file, %.0f ns per packet", (d - f) * 1e6 / n, (d - f) * 1e9 / n / p }')"
echo "per round (wall s, file / directory):"
for workers in 1 2; do
  echo "  --workers $workers: $(paste -d/ <(cut -d' ' -f1 "$WORK/file.$workers") <(cut -d' ' -f1 "$WORK/dir.$workers") | tr '\n' ' ')"
done
