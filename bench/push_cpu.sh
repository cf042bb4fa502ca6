#!/usr/bin/env bash
# CPU per line of `statkit serve` under `statkit bench`'s batched mixed
# load, without a pushing sink and with a remote-write sink into a local
# VictoriaMetrics, in alternating rounds (issue 14's "must not slow ingest
# by more than 5%"; docs/scale-out.md quotes it).
#
#   bench/push_cpu.sh [rounds]          (default 2)
#
# Environment: STATKIT (the binary; default target/release/statkit),
# NAMES (names per kind; default 20000, i.e. 100k series), LINES (default
# 6000000), RATE (lines/s; default 300000). Needs Debian's
# victoria-metrics. Loopback only; every process it starts is stopped on
# exit; every wait is bounded.
set -euo pipefail
rounds="${1:-2}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${STATKIT:-$repo/target/release/statkit}"
names="${NAMES:-20000}" lines="${LINES:-6000000}" rate="${RATE:-300000}"
command -v victoria-metrics >/dev/null || { echo "push_cpu.sh: victoria-metrics is missing (apt-get install victoria-metrics)" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "push_cpu.sh: $bin not found: cargo build --release -p statkit-cli" >&2; exit 2; }
work="$(mktemp -d /tmp/statkit-push-cpu.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

victoria-metrics -storageDataPath="$work/vm" -httpListenAddr=127.0.0.1:18429 >"$work/vm.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    curl -sf http://127.0.0.1:18429/health >/dev/null && break
    sleep 0.2
done

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

run() {
    local label=$1; shift
    "$bin" serve --statsd 127.0.0.1:18126 --admin 127.0.0.1:0 --http 127.0.0.1:0 --state-dir off \
        --console=false --flush-interval 10 "$@" >"$work/serve-$label.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    sleep 1
    local before after sent
    before=$(ticks "$pid")
    "$bin" bench --statsd 127.0.0.1:18126 -n "$lines" -r "$rate" --names "$names" --sendmmsg 32 \
        --time-limit 120 --format kv >"$work/bench-$label.txt" 2>&1
    sleep 12 # one more flush (and push) of the whole load
    after=$(ticks "$pid")
    sent=$(awk '$1=="lines_total"{print $2}' "$work/bench-$label.txt")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$label: $((after - before)) CPU ticks (1/100 s) for $sent lines: $(echo "scale=1; ($after-$before)*10000000/$sent" | bc) ns/line"
}

for _ in $(seq "$rounds"); do
    run off
    run remote-write --remote-write http://127.0.0.1:18429/api/v1/write --label host=bench
done
