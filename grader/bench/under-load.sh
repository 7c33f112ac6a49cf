#!/usr/bin/env bash
# A correct solution must never fail, even on a loaded machine: checks the reference solution of
# each lesson given RUNS times in a row while one busy loop per core keeps every core busy.
#
#   grader/bench/under-load.sh RUNS LESSON...      e.g. grader/bench/under-load.sh 20 01 02 03 04 05
#
# Prints, per lesson, how many runs passed; on a failure, the failing run's report. Exits 1 if any
# run failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:?usage: under-load.sh RUNS LESSON...}
shift
cargo build --release -q -p grader
grader=$PWD/target/release/grader
busy=()
for _ in $(seq "$(nproc)"); do
    (while :; do :; done) &
    busy+=($!)
done
trap 'kill "${busy[@]}" 2>/dev/null || true' EXIT
failed=0
for lesson in "$@"; do
    passed=0
    t0=$(date +%s)
    for i in $(seq "$runs"); do
        if out=$("$grader" check "$lesson" --solution --color never 2>&1); then
            passed=$((passed + 1))
        else
            failed=1
            echo "lesson $lesson run $i FAILED:"
            echo "$out" | grep -v '✓'
        fi
    done
    echo "lesson $lesson: $passed/$runs passed with $(nproc) busy loops ($(( $(date +%s) - t0 )) s)"
done
exit "$failed"
