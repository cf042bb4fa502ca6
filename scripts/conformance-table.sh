#!/usr/bin/env bash
# Regenerates docs/conformance.md: plays the conformance suite (conformance/)
# in process with statkit's default and etsy-strict settings, and over the
# network against `statkit serve` and etsy statsd 0.9.0 through the
# integration tests of crates/statkit-cli/tests/cli/conformance.rs, then writes
# the table from what those runs reported.
#
#   scripts/conformance-table.sh        # after scripts/test.sh has installed etsy statsd
#
# etsy statsd and node are found as the tests find them (STATKIT_TEST_ETSY_DIR,
# STATKIT_TEST_NODE, else target/test-deps and the PATH). It takes about two
# minutes, most of it the network runs' flushes.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT

cargo build -q -p statkit-cli
statkit="$repo/target/debug/statkit"

# A failing case is not a reason to stop: the table shows it.
"$statkit" conformance --suite conformance --in-process >"$reports/statkit-default.txt" || true
"$statkit" conformance --suite conformance --in-process --profile etsy-strict \
    >"$reports/statkit-etsy-strict.txt" || true

# The integration tests append each network run's report to the folder.
STATKIT_CONFORMANCE_REPORTS="$reports" cargo test -q -p statkit-cli --test cli -- \
    conformance::statkit_serve_gives conformance::etsy_statsd_gives || true
for report in statkit-serve etsy; do
    [[ -s "$reports/$report.txt" ]] || { echo "conformance-table.sh: the $report run reported nothing" >&2; exit 1; }
done

cargo run -q -p statkit-conformance --example table -- conformance "$reports" >docs/conformance.md.new
mv docs/conformance.md.new docs/conformance.md
echo "docs/conformance.md: $(grep -c '^| \[' docs/conformance.md) rows"
