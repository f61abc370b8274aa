#!/usr/bin/env bash
# The suite under load (issue 21): N whole-suite runs, each on a fresh clone of this checkout's HEAD with .ci/run
# (npm ci, lint, npm test), with a busy-loop Node process on each core for the whole run. One line per run in
# $OUT/runs.txt (commit, exit status, seconds, the test counts, the log); a run's clone is kept when it failed.
# Touch $OUT/stop to end the loop after the run under way. Let nothing else use the machine meanwhile.
#
#   bin/loaded-runs.sh            # 10 runs, results in /tmp/loaded-runs
#   OUT=/var/tmp/runs bin/loaded-runs.sh 3
#   BURNERS=1 OUT=/tmp/runs-a bin/loaded-runs.sh 5 & BURNERS=0 OUT=/tmp/runs-b bin/loaded-runs.sh 5
#                                 # two runs at once, each beside the other and one busy loop (heavier, faster)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/loaded-runs}
runs=${1:-10}
burners_wanted=${BURNERS:-$(nproc)}
mkdir -p "$out"
for i in $(seq 1 "$runs"); do
  [ -f "$out/stop" ] && break
  dir=$(mktemp -d "$out/run-XXXX")
  git clone -q "$repo" "$dir/repo"
  head=$(git -C "$dir/repo" rev-parse --short HEAD)
  burners=()
  for _ in $(seq 1 "$burners_wanted"); do
    node -e 'for (;;) Math.sqrt(Math.random())' &
    burners+=($!)
  done
  start=$(date +%s)
  (cd "$dir/repo" && bash .ci/run >"$dir/ci.log" 2>&1)
  rc=$?
  [ "${#burners[@]}" -gt 0 ] && kill "${burners[@]}"
  counts=$(grep -aE '^tests: ' "$dir/ci.log" | tail -1)
  echo "run $i $head rc=$rc $(($(date +%s) - start))s $(date -u +%H:%M) $counts log=$dir/ci.log" | tee -a "$out/runs.txt"
  [ "$rc" -eq 0 ] && rm -rf "$dir/repo"
done
