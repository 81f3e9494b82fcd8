#!/usr/bin/env bash
# Kafka connector throughput on loopback, as in docs/benchmarks.md: Nexmark bids (JSON) are
# loaded into a topic of a local tansu broker, then read by `freshet run` jobs at parallelism 1
# with 1 s checkpoints. Prints one row per case with events per CPU-second of the freshet
# process (the broker's CPU is shown beside it) and the mean record size.
#
# Usage: scripts/kafka-bench.sh [EVENTS]   (default 1000000)
# The exactly-once case needs a broker with transactions (tansu has none): name one with
# FRESHET_KAFKA_TXN_BROKERS=host:port and it runs against that broker instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
events="${1:-1000000}"
partitions=4

command -v /usr/bin/time >/dev/null 2>&1 || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
}
tansu="${FRESHET_TANSU:-$HOME/.cache/freshet/tools/tansu-0.6.0/bin/tansu}"
[ -x "$tansu" ] || { echo "no tansu at $tansu: run scripts/test.sh once (it installs it) or set FRESHET_TANSU" >&2; exit 1; }
cargo build --release --locked -p freshet-cli --example kafka_topics >&2
freshet="$CARGO_TARGET_DIR/release/freshet"
topics="$CARGO_TARGET_DIR/release/examples/kafka_topics"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$tansu" broker --storage-engine memory://tansu/ --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" >"$work/tansu.log" 2>&1 &
broker_pid=$!
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
bootstrap="127.0.0.1:$port"
"$topics" "$bootstrap" "bids:$partitions" "k2k-alo-out:$partitions"

# CPU seconds (user + system) the broker has used so far.
broker_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$broker_pid/stat"
}

bid_columns="auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
    date_time TIMESTAMP(3), extra STRING"
kafka_with() { # topic, extra options
  echo "'connector' = 'kafka', 'topic' = '$1', 'properties.bootstrap.servers' = '$bootstrap', 'format' = 'json'$2"
}
# One job run: name, SQL file; prints "wall user sys" of the freshet process.
run_job() {
  /usr/bin/time -f "%e %U %S" -o "$work/$1.time" \
    "$freshet" run "$work/$1.sql" --checkpoint-dir "$work/$1-chk" --checkpoint-interval 1s \
    >/dev/null 2>"$work/$1.log" || { echo "$1 failed:" >&2; grep -v "^ *[0-9]*: \|^ *at " "$work/$1.log" | tail -20 >&2; exit 1; }
  cat "$work/$1.time"
}

row() { # case, events, "wall user sys", broker cpu s
  read -r wall user sys <<<"$3"
  awk -v c="$1" -v n="$2" -v w="$wall" -v u="$user" -v s="$sys" -v b="$4" -v size="$size" \
    'BEGIN { cpu = u + s; printf "| %s | %d | %s | %.2f | %.2f | %.0f | %.2f |\n", c, n, size, w, cpu, n / cpu, b }'
}

# 1. Load: the Nexmark generator into the input topic (one record per producer batch: tansu
#    0.6.0 reports a partition's end as one past the base offset of its last batch, and the
#    bounded readers below stop there).
cat >"$work/load.sql" <<EOF
CREATE TABLE gen ($bid_columns) WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '$events');
CREATE TABLE bids ($bid_columns) WITH ($(kafka_with bids ", 'sink.delivery-guarantee' = 'at-least-once', 'properties.batch.num.messages' = '1'"));
INSERT INTO bids SELECT * FROM gen;
EOF

# How many bids the Nexmark events hold: of every 50, the first 4 are a person and 3 auctions.
bids=$(( events / 50 * 46 + (events % 50 > 4 ? events % 50 - 4 : 0) ))

# 2. The mean size of a record value, read back as raw text.
cat >"$work/size.sql" <<EOF
CREATE TABLE raw_bids (v STRING) WITH ($(kafka_with bids ", 'scan.bounded.mode' = 'latest-offset'" | sed "s/'format' = 'json'/'format' = 'raw'/"));
CREATE TABLE size_out (bytes BIGINT) WITH ('connector' = 'filesystem', 'path' = '$work/size-out', 'format' = 'csv');
INSERT INTO size_out SELECT CAST(OCTET_LENGTH(v) AS BIGINT) FROM raw_bids;
EOF

# 3. Kafka -> blackhole.
cat >"$work/blackhole.sql" <<EOF
CREATE TABLE bids ($bid_columns) WITH ($(kafka_with bids ", 'scan.bounded.mode' = 'latest-offset'"));
CREATE TABLE sink ($bid_columns) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT * FROM bids;
EOF

# 4. Kafka -> Kafka, at-least-once and (against a transactional broker) exactly-once.
k2k() { # name, guarantee, bootstrap
  cat >"$work/$1.sql" <<EOF
CREATE TABLE bids ($bid_columns) WITH ($(kafka_with bids ", 'scan.bounded.mode' = 'latest-offset'"));
CREATE TABLE out ($bid_columns) WITH ($(kafka_with "$1-out" ", 'sink.delivery-guarantee' = '$2'" | sed "s/$bootstrap/$3/"));
INSERT INTO out SELECT * FROM bids;
EOF
}
k2k k2k-alo at-least-once "$bootstrap"

size="?"
echo "| case | events | value bytes | wall s | cpu s | events/s per core | broker cpu s |"
echo "|---|---|---|---|---|---|---|"
b0=$(broker_cpu); t=$(run_job load); b1=$(broker_cpu)
run_job size >/dev/null
read -r read_n size < <(awk 'FNR > 1 { n++; sum += $1 } END { printf "%d %.1f\n", n, sum / n }' "$work"/size-out/part-*)
[ "$read_n" -eq "$bids" ] || { echo "the topic holds $read_n bids, expected $bids" >&2; exit 1; }
size=$(printf "%.0f" "$size")
row "generator -> Kafka (at-least-once)" "$bids" "$t" "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')"
b0=$(broker_cpu); t=$(run_job blackhole); b1=$(broker_cpu)
row "Kafka -> blackhole" "$bids" "$t" "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')"
b0=$(broker_cpu); t=$(run_job k2k-alo); b1=$(broker_cpu)
row "Kafka -> Kafka (at-least-once)" "$bids" "$t" "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')"
if [ -n "${FRESHET_KAFKA_TXN_BROKERS:-}" ]; then
  echo "exactly-once: against $FRESHET_KAFKA_TXN_BROKERS (the input is read from tansu)" >&2
  k2k k2k-eos exactly-once "$FRESHET_KAFKA_TXN_BROKERS"
  t=$(run_job k2k-eos)
  row "Kafka -> Kafka (exactly-once)" "$bids" "$t" "n/a"
else
  echo "Kafka -> Kafka (exactly-once): not run: tansu answers EndTxn as unsupported; set FRESHET_KAFKA_TXN_BROKERS" >&2
fi
