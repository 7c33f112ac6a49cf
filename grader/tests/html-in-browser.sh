#!/usr/bin/env bash
# Opens a `grader grade` report.html in Debian's headless Chromium with the network cut off (a
# proxy nobody listens on), checks what the browser rendered, and writes a screenshot.
#
#   apt-get install chromium-headless-shell     # or chromium
#   grader/tests/html-in-browser.sh grades-01/report.html [shot.png]
#
# Checks: the page renders with nothing blocked (no request leaves the page: it is self-contained),
# the chart is there, and there is one feedback <details> per row of gradebook.csv beside it.
set -euo pipefail
html=$(realpath "$1")
png=${2:-${html%.html}.png}
browser=$(command -v chromium-headless-shell || command -v chromium || true)
if [ -z "$browser" ]; then
    echo "no chromium-headless-shell or chromium: apt-get install chromium-headless-shell" >&2
    exit 2
fi
flags=(--headless --no-sandbox --disable-gpu --no-first-run --proxy-server=127.0.0.1:9
    --proxy-bypass-list='<-loopback>' --enable-logging=stderr --v=0)
log=$(mktemp)
dom=$(mktemp)
trap 'rm -f "$log" "$dom"' EXIT
"$browser" "${flags[@]}" --dump-dom "file://$html" >"$dom" 2>"$log"
details=$(grep -o '<pre id="sub-' "$dom" | wc -l)
charts=$(grep -o '<svg role="img" aria-label="score distribution"' "$dom" | wc -l)
echo "rendered: $details submissions' feedback, $charts chart"
[ "$charts" -eq 1 ] || { echo "no score chart in the rendered page" >&2; exit 1; }
csv="$(dirname "$html")/gradebook.csv"
if [ -f "$csv" ]; then
    rows=$(($(wc -l <"$csv") - 1))
    [ "$details" -eq "$rows" ] || { echo "$details feedback sections for $rows gradebook rows" >&2; exit 1; }
fi
# A link to a submission opens its feedback: the browser expands the details holding the fragment.
first=$(grep -o '<pre id="sub-[^"]*"' "$dom" | head -1 | sed 's/.*id="//; s/"$//')
if [ -n "$first" ]; then
    opened=$("$browser" "${flags[@]}" --dump-dom "file://$html#$first" 2>>"$log" | grep -c '<details open' || true)
    echo "following #$first opened $opened feedback section"
    [ "$opened" -eq 1 ] || { echo "#$first did not open its feedback" >&2; exit 1; }
fi
if grep -Ei 'ERR_PROXY|net::ERR|Failed to load' "$log"; then
    echo "the page asked for something outside itself" >&2
    exit 1
fi
"$browser" "${flags[@]}" --window-size=1100,2400 --screenshot="$png" "file://$html" 2>>"$log"
echo "screenshot: $png"
