#!/bin/sh
# Run fuzz targets one after another, one process each (one core), for SECONDS each.
# usage: fuzz/run-all.sh SECONDS [target...]     (default: every target)
# Env: SANITIZER (address | none; default address), LOGDIR (default /tmp/ioc-sensor-fuzz-logs).
# Prints libFuzzer's last stats line per target; crashes land in fuzz/artifacts/<target>/.
set -u
cd "$(dirname "$0")"
secs=${1:?usage: run-all.sh SECONDS [target...]}
shift
targets=${*:-$(cargo fuzz list --fuzz-dir .)}
logdir=${LOGDIR:-/tmp/ioc-sensor-fuzz-logs}
mkdir -p "$logdir"
export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
for t in $targets; do
    mkdir -p corpus/$t
    cargo fuzz run --fuzz-dir . --sanitizer "${SANITIZER:-address}" "$t" corpus/$t -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$logdir/$t.log" 2>&1
    rc=$?
    stats=$(grep -E '^#[0-9]+' "$logdir/$t.log" | tail -1)
    execs=$(grep -E '^stat::number_of_executed_units' "$logdir/$t.log" | awk '{print $2}')
    echo "$t: exit $rc, $execs execs; $stats"
    grep -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|Test unit written' "$logdir/$t.log" | head -5
done
