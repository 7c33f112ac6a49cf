#!/usr/bin/env bash
# The full mutation run: every mutant of every lesson given (default: all), checked with every
# check, under `nice`. Prints each lesson's table and totals, then one line per lesson with its time;
# writes each lesson's JSON document to mutants-NN.json in OUT (default: a new mutants-TIME folder).
#
#   grader/bench/mutants.sh [LESSON...]      e.g. grader/bench/mutants.sh 01 02
#   JOBS=2 OUT=results grader/bench/mutants.sh 03
#
# JOBS is --mutate-jobs (default 1). CI checks a bounded sample instead (grader/tests/mutate.rs).
# Exits 1 when a lesson has an unexplained survivor, like `grader verify --mutate`.
set -uo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p grader || exit 2
grader=$PWD/target/release/grader
out=${OUT:-mutants-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
lessons=("$@")
if [ ${#lessons[@]} -eq 0 ]; then
    lessons=($(ls -d solutions/[0-9][0-9]-* | sed 's|solutions/\([0-9]*\)-.*|\1|'))
fi
status=0
summary=()
for lesson in "${lessons[@]}"; do
    nn=$(printf %02d "$((10#$lesson))")
    t0=$(date +%s)
    nice "$grader" verify --mutate "$nn" --mutate-jobs "${JOBS:-1}" --format json > "$out/mutants-$nn.json"
    rc=$?
    [ $rc -eq 0 ] || status=1
    t1=$(date +%s)
    summary+=("$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("{}: {} mutants, {} caught, {} timeout, {} missed, {} equivalent, {} unviable".format(*(d[k] for k in ("lesson", "checked", "caught", "timeout", "missed", "equivalent", "unviable"))))' "$out/mutants-$nn.json") ($((t1 - t0)) s, exit $rc)")
done
printf '%s\n' "${summary[@]}"
exit $status
