#!/usr/bin/env bash
# Measures what a learner waits for: `grader check` on a lesson after a one-line edit.
#
#   grader/bench/recheck.sh LESSON [RUNS]     e.g. grader/bench/recheck.sh 01 5
#
# Works on a scratch copy of the lesson's reference solution (so every check runs in full, as for a
# learner who is nearly done), checked with `--path`. Prints the cold time (its build cache removed
# first; the grader binary and the kit's dependencies already built) and the warm times (a one-line
# edit before each run), then the warm median.
set -euo pipefail
cd "$(dirname "$0")/../.."
lesson=${1:?usage: recheck.sh LESSON [RUNS]}
runs=${2:-5}
cargo build --release -q -p grader
grader=$PWD/target/release/grader
folder=$(ls -d solutions/"$(printf %02d "$((10#$lesson))")"-* | head -1)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r "$folder" "$scratch/sub"
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
# The cache of this --path target is keyed by its folder, which is new: the first run is cold.
cold=$(seconds "$grader" check "$lesson" --path "$scratch/sub")
warm=()
for i in $(seq "$runs"); do
    echo "// edit $i" >> "$scratch/sub/src/lib.rs"
    warm+=("$(seconds "$grader" check "$lesson" --path "$scratch/sub")")
done
median=$(printf '%s\n' "${warm[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
printf 'lesson %s  cold %.1f s  warm %s s  median warm %.1f s\n' "$lesson" "$cold" \
    "$(printf '%.1f ' "${warm[@]}")" "$median"
