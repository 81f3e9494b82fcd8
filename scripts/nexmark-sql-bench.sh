#!/usr/bin/env bash
# Runs Nexmark SQL queries with `freshet run` over a bounded input and prints events/s per core
# (Nexmark events generated per CPU-second of the whole process), as in docs/benchmarks.md.
# Usage: scripts/nexmark-sql-bench.sh [EVENTS] [QUERY ...]   (default: 10000000, the queries
# that run today).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --locked -p freshet-cli >&2
events="${1:-10000000}"
shift || true
queries=("$@")
[ "${#queries[@]}" -gt 0 ] || queries=(0 1 2 3 4 5 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "| query | events | wall s | cpu s | events/s per core |"
echo "|---|---|---|---|---|"
for q in "${queries[@]}"; do
  # Bound every Nexmark table of the query; the sinks' paths go to the scratch directory (q13's
  # side input stays where it is).
  sed -e "s/'table' = '\(bid\|auction\|person\)'/'table' = '\1', 'events.num' = '$events'/" \
      -e "/side_input/! s#'path' = '[^']*'#'path' = '$work/q$q-out'#" \
      "queries/nexmark/q$q.sql" > "$work/q$q.sql"
  /usr/bin/time -f "%e %U %S" -o "$work/time" \
    "$CARGO_TARGET_DIR/release/freshet" run "$work/q$q.sql" --checkpoint-dir "$work/q$q-chk" >/dev/null 2>"$work/log" \
    || { echo "q$q failed:" >&2; cat "$work/log" >&2; exit 1; }
  read -r wall user sys < "$work/time"
  awk -v q="$q" -v n="$events" -v w="$wall" -v u="$user" -v s="$sys" \
    'BEGIN { c = u + s; printf "| q%s | %d | %.2f | %.2f | %.0f |\n", q, n, w, c, n / c }'
done
