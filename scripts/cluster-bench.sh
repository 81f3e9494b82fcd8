#!/usr/bin/env bash
# Distributed runtime benchmark (docs/benchmarks.md, "Distributed runtime: 2 workers over
# loopback"): the SQL hot-items job (HOP window COUNT per auction over the Nexmark bid stream).
#
#  1. events/s per core of `freshet run -p 2` (one process) vs `freshet coordinator -p 2` + two
#     1-slot workers (every keyed shuffle crosses loopback gRPC), checkpoints off and every 1 s.
#     CPU = user + sys of every process (GNU time per process; workers get SIGTERM after the
#     coordinator exited, so their rusage is complete).
#  2. checkpoint durations (p50 / p99 / max) collected from GET /v1/jobs/{id}/checkpoints,
#     polled every 5 s (the history keeps 100 entries) and deduplicated by id.
#  3. recovery: coordinator + 3 workers, p=2, throttled unbounded source, 1 s checkpoints,
#     --restart-attempts 5 --restart-delay 0ms; SIGKILL a worker that holds tasks and time
#     kill -> RESTARTING seen -> RUNNING again -> first checkpoint triggered after the kill
#     completes (trigger_time_ms + duration_ms) -> first new committed part-* file in the output
#     directory. Small state (default pools) and large state (1M in-flight auctions, 30 s windows).
#
# Usage: scripts/cluster-bench.sh [EVENTS]   (default 10000000)
# Env: REPEAT (throughput runs per configuration, default 1), RECOVERY_RUNS (default 3),
#      LARGE_RUNS (default RECOVERY_RUNS), LARGE_WARMUP (seconds before the kill, default 30),
#      SKIP_THROUGHPUT=1 / SKIP_RECOVERY=1, STATE_BACKEND (heap or rocksdb, for the recovery runs;
#      default heap), KEEP=1 (keep the logs and data in the temporary directory).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
set +e
cargo build --release --locked -p freshet-cli >&2 || exit 1
bin="$CARGO_TARGET_DIR/release/freshet"
events="${1:-10000000}"
repeat="${REPEAT:-1}"
recovery_runs="${RECOVERY_RUNS:-3}"
work="$(mktemp -d /tmp/cluster-bench.XXXXXX)"
pids=()

cleanup() {
  local p c
  for p in "${pids[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
    kill -KILL "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }

# job_sql OUT EVENTS(0 = unbounded) SLIDE_S SIZE_S EXTRA_WITH_OPTIONS
job_sql() {
  local out="$1" n="$2" slide="$3" size="$4" extra="$5"
  cat <<EOF
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, date_time TIMESTAMP(3), extra STRING,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '$n'$extra);
CREATE TABLE hot (auction BIGINT, num BIGINT, window_end TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '$out', 'format' = 'csv');
INSERT INTO hot SELECT auction, COUNT(*), window_end FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '$slide' SECOND, INTERVAL '$size' SECOND)) GROUP BY auction, window_start, window_end;
EOF
}

# wait_line FILE SED_EXPR [TIMEOUT_S]: prints the first match of sed -n EXPR in FILE.
wait_line() {
  local f="$1" expr="$2" t="${3:-30}" v i
  for ((i = 0; i < t * 20; i++)); do
    v="$(sed -n "$expr" "$f" 2>/dev/null | head -n1)"
    [ -n "$v" ] && { echo "$v"; return 0; }
    sleep 0.05
  done
  echo "timeout waiting for '$expr' in $f" >&2
  return 1
}

job_id() { # REST_URL
  local id i
  for ((i = 0; i < 200; i++)); do
    id="$(curl -sf "$1/v1/jobs" | jq -r '.jobs[0].id // empty' 2>/dev/null)"
    [ -n "$id" ] && { echo "$id"; return 0; }
    sleep 0.05
  done
  return 1
}

# poll_checkpoints REST_URL OUTFILE: appends "id duration_ms size_bytes" of completed
# checkpoints every 5 s until killed.
poll_checkpoints() {
  local url="$1" out="$2" id
  id="$(job_id "$url")" || return
  while :; do
    curl -sf "$url/v1/jobs/$id/checkpoints" |
      jq -r '.history[] | select(.status == "COMPLETED" and .kind == "checkpoint") | "\(.id) \(.duration_ms) \(.size_bytes)"' \
        >>"$out" 2>/dev/null
    sleep 5
  done
}

# ckpt_stats FILE: "count p50 p99 max maxsize" (nearest rank) of the deduplicated durations.
ckpt_stats() {
  sort -n -u -k1,1 "$1" 2>/dev/null | awk '{ print $2, $3 }' | sort -n -k1,1 | awk '
    { d[NR] = $1; if ($2 > s) s = $2 }
    END {
      if (NR == 0) { print "0 - - - -"; exit }
      i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++
      i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++
      printf "%d %d %d %d %.1f\n", NR, d[i50], d[i99], d[NR], s / 1e6
    }'
}

cpu_of() { tail -n1 "$1" | awk '{ print $2 + $3 }'; }
wall_of() { tail -n1 "$1" | awk '{ print $1 }'; }

results="$work/results"
: >"$results"

# single LABEL INTERVAL("" = off)
single() {
  local label="$1" interval="$2" d="$work/$1" poller=""
  mkdir -p "$d"
  job_sql "$d/out" "$events" 2 10 "" >"$d/job.sql"
  /usr/bin/time -f "%e %U %S" -o "$d/run.time" \
    "$bin" run "$d/job.sql" -p 2 --checkpoint-dir "$d/chk" ${interval:+--checkpoint-interval "$interval"} \
    --rest-addr 127.0.0.1:0 >/dev/null 2>"$d/run.log" &
  local run=$!
  pids+=("$run")
  if [ -n "$interval" ]; then
    local rest
    rest="$(wait_line "$d/run.log" 's#^REST API listening on \(http://[^ ]*\).*#\1#p')"
    poll_checkpoints "$rest" "$d/ckpts" &
    poller=$!
    pids+=("$poller")
  fi
  wait "$run" || { echo "$label failed:" >&2; tail -n 20 "$d/run.log" >&2; }
  [ -n "$poller" ] && kill "$poller" 2>/dev/null
  local cpu wall
  cpu="$(cpu_of "$d/run.time")"
  wall="$(wall_of "$d/run.time")"
  echo "$label $wall $cpu $(ckpt_stats "$d/ckpts")" >>"$results"
}

# distributed LABEL INTERVAL("" = off)
distributed() {
  local label="$1" interval="$2" d="$work/$1" poller="" w
  mkdir -p "$d"
  job_sql "$d/out" "$events" 2 10 "" >"$d/job.sql"
  /usr/bin/time -f "%e %U %S" -o "$d/coord.time" \
    "$bin" coordinator --job "$d/job.sql" -p 2 --rpc-addr 127.0.0.1:0 --rest-addr 127.0.0.1:0 \
    --checkpoint-dir "$d/chk" ${interval:+--checkpoint-interval "$interval"} >/dev/null 2>"$d/coord.log" &
  local coord=$!
  pids+=("$coord")
  local rpc rest
  rpc="$(wait_line "$d/coord.log" 's#^Coordinator RPC listening on \([^ ]*\).*#\1#p')" || return 1
  rest="$(wait_line "$d/coord.log" 's#^REST API listening on \(http://[^ ]*\).*#\1#p')" || return 1
  local workers=()
  for w in w1 w2; do
    /usr/bin/time -f "%e %U %S" -o "$d/$w.time" \
      "$bin" worker --coordinator "$rpc" --addr 127.0.0.1:0 --slots 1 --worker-id "$w" \
      --local-dir "$d/$w-local" >/dev/null 2>"$d/$w.log" &
    workers+=($!)
    pids+=($!)
  done
  if [ -n "$interval" ]; then
    poll_checkpoints "$rest" "$d/ckpts" &
    poller=$!
    pids+=("$poller")
  fi
  wait "$coord" || { echo "$label coordinator failed:" >&2; tail -n 20 "$d/coord.log" >&2; }
  grep -q 'job finished' "$d/coord.log" || echo "$label: no 'job finished' in the coordinator log" >&2
  [ -n "$poller" ] && kill "$poller" 2>/dev/null
  # GNU time ignores SIGINT/SIGTERM while it waits; signal the worker itself.
  for w in "${workers[@]}"; do
    for c in $(pgrep -P "$w"); do kill -TERM "$c" 2>/dev/null; done
  done
  for w in "${workers[@]}"; do wait "$w" 2>/dev/null; done
  local cpu wall
  cpu="$(for f in "$d"/coord.time "$d"/w1.time "$d"/w2.time; do cpu_of "$f"; done | awk '{ s += $1 } END { print s }')"
  wall="$(wall_of "$d/coord.time")"
  echo "$label $wall $cpu $(ckpt_stats "$d/ckpts") coord=$(cpu_of "$d/coord.time") w1=$(cpu_of "$d/w1.time") w2=$(cpu_of "$d/w2.time")" >>"$results"
}

if [ "${SKIP_THROUGHPUT:-0}" != 1 ]; then
  for ((r = 1; r <= repeat; r++)); do
    single "single-off-$r" ""
    distributed "dist-off-$r" ""
    single "single-1s-$r" 1s
    distributed "dist-1s-$r" 1s
  done
  echo "## Throughput: hot items, $events events, p=2 (HOP 2 s / 10 s)"
  echo
  echo "| run | wall s | cpu s | events/s per core | checkpoints | p50 ms | p99 ms | max ms | max state MB | per process cpu s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -v n="$events" '{ extra = ""; for (i = 9; i <= NF; i++) extra = extra " " $i
    printf "| %s | %.2f | %.2f | %.3f M | %s | %s | %s | %s | %s |%s |\n", $1, $2, $3, n / $3 / 1e6, $4, $5, $6, $7, $8, extra }' "$results"
  echo
  awk -v n="$events" '
    { split($1, k, "-"); key = k[1] "-" k[2]; cpu[key] += $3; runs[key]++ }
    END {
      for (key in cpu) pc[key] = n * runs[key] / cpu[key]
      printf "shuffle cost, checkpoints off: %.1f%%\n", 100 * (1 - pc["dist-off"] / pc["single-off"])
      printf "shuffle cost, checkpoints 1 s: %.1f%%\n", 100 * (1 - pc["dist-1s"] / pc["single-1s"])
      printf "checkpoint overhead, single:      %.1f%%\n", 100 * (1 - pc["single-1s"] / pc["single-off"])
      printf "checkpoint overhead, distributed: %.1f%%\n", 100 * (1 - pc["dist-1s"] / pc["dist-off"])
    }' "$results"
  echo
fi

# recovery LABEL RATE SLIDE SIZE EXTRA_WITH WARMUP_S
recovery() {
  local label="$1" rate="$2" slide="$3" size="$4" extra="$5" warmup="$6" d="$work/$1" w
  mkdir -p "$d/out"
  job_sql "$d/out" 0 "$slide" "$size" ", 'max-events-per-second' = '$rate'$extra" >"$d/job.sql"
  "$bin" coordinator --job "$d/job.sql" -p 2 --rpc-addr 127.0.0.1:0 --rest-addr 127.0.0.1:0 \
    --state-backend "${STATE_BACKEND:-heap}" \
    --checkpoint-dir "$d/chk" --checkpoint-interval 1s --restart-attempts 5 --restart-delay 0ms \
    >/dev/null 2>"$d/coord.log" &
  local coord=$!
  pids+=("$coord")
  local rpc rest id
  rpc="$(wait_line "$d/coord.log" 's#^Coordinator RPC listening on \([^ ]*\).*#\1#p')" || return 1
  rest="$(wait_line "$d/coord.log" 's#^REST API listening on \(http://[^ ]*\).*#\1#p')" || return 1
  declare -A wpid
  for w in w1 w2 w3; do
    "$bin" worker --coordinator "$rpc" --addr 127.0.0.1:0 --slots 1 --worker-id "$w" \
      --local-dir "$d/$w-local" >/dev/null 2>"$d/$w.log" &
    wpid[$w]=$!
    pids+=($!)
  done
  id="$(job_id "$rest")" || return 1
  sleep "$warmup"
  local victim=""
  for w in w1 w2 w3; do
    grep -q 'deployed.*tasks=[1-9]' "$d/$w.log" && { victim="$w"; break; }
  done
  [ -n "$victim" ] || { echo "$label: no worker logged deployed tasks" >&2; return 1; }
  local job0 r0 ck0 size0
  job0="$(curl -sf "$rest/v1/jobs/$id")"
  r0="$(jq -r .restarts <<<"$job0")"
  [ "$(jq -r .state <<<"$job0")" = RUNNING ] || { echo "$label: job not RUNNING before the kill" >&2; return 1; }
  size0="$(curl -sf "$rest/v1/jobs/$id/checkpoints" | jq -r '.latest_completed.size_bytes // 0')"
  ls "$d/out" | grep '^part-' | sort >"$d/files0"
  local t0 t_detect="" t_run="" t_ck="" t_ck_seen="" t_out="" t st rs ck i
  t0="$(now_ms)"
  kill -KILL "${wpid[$victim]}"
  for ((i = 0; i < 1200; i++)); do
    t="$(now_ms)"
    if [ -z "$t_run" ]; then
      read -r st rs < <(curl -sf "$rest/v1/jobs/$id" | jq -r '"\(.state) \(.restarts)"')
      [ -z "$t_detect" ] && { [ "$st" != RUNNING ] || [ "${rs:-$r0}" -gt "$r0" ]; } && t_detect="$t"
      [ "$st" = RUNNING ] && [ "${rs:-$r0}" -gt "$r0" ] && t_run="$t"
    fi
    if [ -z "$t_ck" ]; then
      ck="$(curl -sf "$rest/v1/jobs/$id/checkpoints" |
        jq -r --argjson t0 "$t0" '[.history[] | select(.status == "COMPLETED" and .trigger_time_ms >= $t0)] | min_by(.id) // empty | "\(.trigger_time_ms + .duration_ms)"')"
      [ -n "$ck" ] && { t_ck="$ck"; t_ck_seen="$t"; }
    fi
    if [ -z "$t_out" ] && [ -n "$(ls "$d/out" | grep '^part-' | sort | comm -13 "$d/files0" -)" ]; then
      t_out="$t"
    fi
    [ -n "$t_run" ] && [ -n "$t_ck" ] && [ -n "$t_out" ] && break
    sleep 0.05
  done
  rel() { [ -n "$1" ] && echo $(($1 - t0)) || echo "-"; }
  echo "$label victim=$victim state_mb=$(awk -v s="$size0" 'BEGIN { printf "%.1f", s / 1e6 }') detect_ms=$(rel "$t_detect") running_ms=$(rel "$t_run") ckpt_ms=$(rel "$t_ck") ckpt_seen_ms=$(rel "$t_ck_seen") output_ms=$(rel "$t_out")" | tee -a "$work/recovery"
  cp "$d/coord.log" "/tmp/cluster-bench-$label-coord.log" 2>/dev/null
  kill -TERM "$coord" 2>/dev/null
  for w in w1 w2 w3; do kill -TERM "${wpid[$w]}" 2>/dev/null; done
  wait "$coord" 2>/dev/null
  for w in w1 w2 w3; do wait "${wpid[$w]}" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$d"
}

if [ "${SKIP_RECOVERY:-0}" != 1 ]; then
  echo "## Recovery: coordinator + 3 workers, p=2, checkpoints every 1 s, SIGKILL of a worker with tasks"
  echo "(times in ms after the kill; ckpt = trigger + duration of the first checkpoint triggered after the kill)"
  for ((r = 1; r <= recovery_runs; r++)); do
    recovery "small-$r" 50000 2 10 "" 8
  done
  for ((r = 1; r <= ${LARGE_RUNS:-$recovery_runs}; r++)); do
    recovery "large-$r" 20000 2 30 ", 'in-flight-auctions' = '1000000'" "${LARGE_WARMUP:-30}"
  done
fi
