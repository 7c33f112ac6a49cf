#!/usr/bin/env bash
# Measures `grader grade` throughput: submissions graded per minute, for each --jobs given.
#
#   grader/bench/throughput.sh LESSON [JOBS...]     e.g. grader/bench/throughput.sh 01 1 2 4
#
# Each run grades a class of 6 fresh submissions (3 copies of the reference solution, the first 3
# known-buggy variants), with new ids each time so that nothing comes from the grade cache. The
# lesson's dependencies are built once beforehand, as they would be after the first class.
set -euo pipefail
cd "$(dirname "$0")/../.."
lesson=${1:?usage: throughput.sh LESSON [JOBS...]}
shift
jobs=("${@:-1 2}")
cargo build --release -q -p grader
grader=$PWD/target/release/grader
nn=$(printf %02d "$((10#$lesson))")
solution=$(ls -d solutions/"$nn"-* | head -1)
variants=$(ls -d grader/lessons/"$nn"-*/variants | head -1)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$grader" check "$lesson" --solution >/dev/null 2>&1 || true # dependencies built once
for j in ${jobs[@]}; do
    class=$scratch/class-$j
    mkdir -p "$class"
    for i in 1 2 3; do cp -r "$solution" "$class/solution$i-$$-j$j"; done
    for v in $(ls "$variants"/*.patch | head -3); do
        # A variant is a patch of the solution's src/ (its preamble is skipped by patch).
        dir=$class/$(basename "$v" .patch)-$$-j$j
        cp -r "$solution" "$dir"
        patch -s -p1 -d "$dir/src" <"$v"
    done
    t0=$(date +%s.%N)
    "$grader" grade "$lesson" "$class" --jobs "$j" --out "$scratch/out-$j" --format csv >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v j="$j" -v l="$nn" \
        'BEGIN { printf "lesson %s --jobs %d: 6 submissions in %.1f s, %.1f per minute\n", l, j, b - a, 6 * 60 / (b - a) }'
done
