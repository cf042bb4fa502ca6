#!/usr/bin/env bash
# Runs each fuzz target for a bounded time and fails on a crash.
#
#   scripts/fuzz-smoke.sh [seconds per target]        (default 30)
#
# Targets: statsd_parse (the line parser and key builder), aggregate
# (a receiver's table, the merge and the flush), stats_file (the
# shared-memory stats file decoder), pipe_parse (statvent's pipe lines
# and the host-wide merge), reader_folder (the readers and clean over a
# folder of hostile files, FIFOs and links built from the input; a hang is
# caught by -timeout), snapshot_decode (a flush read back from a sink's
# disk queue), checkpoint (the aggregation checkpoint's decoder and
# restore) and mapping_file (statsd_exporter's mapping files: the YAML
# reader, the validator, the matcher and its cache).
#
# Installs cargo-fuzz if it is missing. By default the target is built
# without a sanitizer, which works on a stable toolchain; the parser is safe
# Rust, so panics and broken assertions are what the fuzzer looks for. Set
# FUZZ_SANITIZER=address to build with AddressSanitizer, which needs a
# nightly toolchain (or, on stable, RUSTC_BOOTSTRAP=1, which this script
# sets for you in that case).
#
# Exit status: 0 when the run ended without finding anything, non-zero when
# the target crashed (the input is saved under fuzz/artifacts/) or the
# build failed.

set -euo pipefail

seconds="${1:-30}"
sanitizer="${FUZZ_SANITIZER:-none}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

if [[ "$sanitizer" != none ]] && ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

cd "$root/fuzz"
for target in statsd_parse aggregate stats_file pipe_parse reader_folder snapshot_decode checkpoint mapping_file; do
    mkdir -p "corpus/$target"
    # The parser's seeds and dictionary start both statsd targets: the
    # aggregate target reads statsd lines too.
    seeds="seeds/statsd_parse"
    dict=(-dict=statsd.dict)
    if [[ "$target" == stats_file || "$target" == pipe_parse || "$target" == reader_folder || "$target" == snapshot_decode || "$target" == checkpoint || "$target" == mapping_file ]]; then
        seeds="seeds/$target"
        dict=()
    fi
    # libFuzzer exits non-zero on a crash, a panic, a leak or a timeout, and
    # `set -e` passes that on.
    cargo fuzz run --sanitizer "$sanitizer" "$target" "corpus/$target" "$seeds" -- \
        -max_total_time="$seconds" \
        -timeout=10 \
        "${dict[@]}" \
        -print_final_stats=1
done
