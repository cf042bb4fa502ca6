#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs the
# format check, clippy and every test in the workspace.
#
#   scripts/test.sh            # from anywhere; works on a fresh Debian machine as root
#
# It also fuzzes every fuzz target for 15 s under AddressSanitizer
# (installing cargo-fuzz once), and runs the shared-memory cell code under
# Miri (rustup's nightly toolchain and its miri component, when they can be
# had).
#
# The tests compare `statkit serve` with the real etsy statsd 0.9.0 and drive
# it with real third-party clients, so they need:
#   - Debian's prometheus (scrapes /metrics), chromium (renders the
#     dashboard) and curl (the README's tour), installed with apt-get when
#     missing;
#   - node (Debian's nodejs/npm when missing) and etsy statsd 0.9.0 from npm,
#     in target/test-deps/etsy;
#   - a Python venv (Python 3.10 or newer) with the PyPI clients (statsd,
#     datadog, gunicorn, pyzmq) and mypy, in target/test-deps/venv, where
#     statkit's own package (python/, distribution statkit-hooks) is
#     installed too;
#   - Debian's munin-node, for munin-run;
#   - Debian's systemd, for systemd-analyze (checks packaging/statkit.service).
# Both installs are skipped when what is there is already right, so a second
# run goes straight to cargo. The tests find both through the STATKIT_TEST_*
# variables exported below (and fall back to these same paths, so a plain
# `cargo test` works once this script has run).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

deps="$repo/target/test-deps"
etsy_version="0.9.0"
# Pinned so that a client release cannot change what the tests see (and a
# mypy release what it reports on python/).
python_requirements=(statsd==4.0.1 datadog==0.56.0 gunicorn==23.0.0 pyzmq==27.3.0 mypy==2.4.1)

start=$SECONDS
current="setup"
step() {
    current="$*"
    printf '\n==> %s (%ds)\n' "$*" "$((SECONDS - start))"
}
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }
trap 'printf "\nscripts/test.sh: FAILED at step: %s (after %ds)\n" "$current" "$((SECONDS - start))" >&2' ERR

cargo_flags=()
if [[ "${CI:-}" == "true" ]]; then
    # CI checks out a commit: its Cargo.lock must already be complete.
    cargo_flags+=(--locked)
fi

# --- node and npm -----------------------------------------------------------
step "checking node and npm"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    command -v apt-get >/dev/null || die "node/npm are missing and apt-get is not available: install Node.js >= 8 and npm"
    echo "node or npm missing: installing Debian's nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
fi
echo "node $(node --version), npm $(npm --version 2>/dev/null)"

# --- etsy statsd --------------------------------------------------------------
etsy_prefix="$deps/etsy"
etsy_dir="$etsy_prefix/node_modules/statsd"
installed_etsy() {
    node -e 'process.stdout.write(require(process.argv[1]).version)' "$etsy_dir/package.json" 2>/dev/null || true
}
step "etsy statsd $etsy_version"
if [[ "$(installed_etsy)" == "$etsy_version" ]]; then
    echo "already installed in $etsy_dir"
else
    echo "installing statsd@$etsy_version from npm into $etsy_prefix"
    mkdir -p "$etsy_prefix"
    # A package.json of our own keeps npm from walking up into the repository.
    [[ -f "$etsy_prefix/package.json" ]] || echo '{"name":"statkit-test-deps","private":true}' >"$etsy_prefix/package.json"
    # The optional dependencies (syslog, hashring for the proxy, a Windows
    # service wrapper) are unused by the server and some build native code.
    npm install --prefix "$etsy_prefix" --omit=optional --no-audit --no-fund --loglevel=error \
        "statsd@$etsy_version"
    [[ "$(installed_etsy)" == "$etsy_version" ]] || die "npm did not install statsd $etsy_version into $etsy_dir"
fi

# --- Python clients -------------------------------------------------------------
venv="$deps/venv"
stamp="$venv/.statkit-requirements"
wanted="${python_requirements[*]}"
step "Python clients: $wanted"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "already installed in $venv"
else
    python=""
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
    [[ -n "$python" ]] || die "no python3 (3.10 or newer) found"
    echo "creating $venv with $("$python" --version)"
    rm -rf "$venv"
    "$python" -m venv "$venv" \
        || die "'$python -m venv' failed: install Python's venv module (Debian: apt-get install python3-venv)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${python_requirements[@]}"
    echo "$wanted" >"$stamp"
fi

# --- Prometheus, Chromium and curl (the HTTP server's real-client tests) -----------
# curl: the README's tour (tests/cli/readme.rs) runs its curl lines.
step "Prometheus, headless Chromium and curl"
missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v chromium >/dev/null || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "${missing[*]} missing and apt-get is not available"
    echo "installing Debian's ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export STATKIT_TEST_PROMETHEUS STATKIT_TEST_CHROMIUM
STATKIT_TEST_PROMETHEUS="$(command -v prometheus)"
STATKIT_TEST_CHROMIUM="$(command -v chromium)"
echo "STATKIT_TEST_PROMETHEUS=$STATKIT_TEST_PROMETHEUS ($(prometheus --version 2>&1 | head -1))"
echo "STATKIT_TEST_CHROMIUM=$STATKIT_TEST_CHROMIUM"

# --- mapping files (issue 15) ------------------------------------------------------
# tests/cli/mapping.rs checks the mapped /metrics with `promtool check
# metrics`: Debian's prometheus package (installed above) ships promtool.
# statsd_exporter itself is not packaged by Debian (bookworm), so the
# corpus' expected texts are statkit's own, written from its documentation.
step "promtool (from Debian's prometheus)"
command -v promtool >/dev/null || die "promtool is missing: it comes with Debian's prometheus package"
export STATKIT_TEST_PROMTOOL
STATKIT_TEST_PROMTOOL="$(command -v promtool)"
echo "STATKIT_TEST_PROMTOOL=$STATKIT_TEST_PROMTOOL"
# --- end of mapping files ------------------------------------------------------------

export STATKIT_TEST_NODE
STATKIT_TEST_NODE="$(command -v node)"
export STATKIT_TEST_ETSY_DIR="$etsy_dir"
export STATKIT_TEST_PYTHON="$venv/bin/python"
echo "STATKIT_TEST_NODE=$STATKIT_TEST_NODE"
echo "STATKIT_TEST_ETSY_DIR=$STATKIT_TEST_ETSY_DIR"
echo "STATKIT_TEST_PYTHON=$STATKIT_TEST_PYTHON"

# --- munin-node ------------------------------------------------------------------
# The munin plug-in tests run Debian's munin-run (on plug-in and config
# folders of their own, never /etc/munin).
step "munin-node (munin-run)"
if ! command -v munin-run >/dev/null && [[ ! -x /usr/sbin/munin-run ]]; then
    command -v apt-get >/dev/null || die "munin-run is missing and apt-get is not available: install munin-node"
    echo "installing Debian's munin-node"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq munin-node >/dev/null
fi
export STATKIT_TEST_MUNIN_RUN
STATKIT_TEST_MUNIN_RUN="$(command -v munin-run || echo /usr/sbin/munin-run)"
echo "STATKIT_TEST_MUNIN_RUN=$STATKIT_TEST_MUNIN_RUN"

# --- systemd-analyze ---------------------------------------------------------------
# The packaging tests check packaging/statkit.service with `systemd-analyze
# verify` and `security`. Debian's systemd package is about 10 MB installed
# and harmless in a container: installing it starts no daemon when systemd
# is not PID 1, and the tests only read unit files with it.
step "systemd (systemd-analyze)"
if ! command -v systemd-analyze >/dev/null; then
    command -v apt-get >/dev/null || die "systemd-analyze is missing and apt-get is not available: install systemd"
    echo "installing Debian's systemd (for systemd-analyze)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends systemd >/dev/null
fi
export STATKIT_TEST_SYSTEMD_ANALYZE
STATKIT_TEST_SYSTEMD_ANALYZE="$(command -v systemd-analyze)"
echo "STATKIT_TEST_SYSTEMD_ANALYZE=$STATKIT_TEST_SYSTEMD_ANALYZE"

# --- statkit's Python package ------------------------------------------------------
# Installed the way users install it (distribution statkit-hooks; the tests
# themselves import the tree's copy, from python/ or through PYTHONPATH),
# then mypy --strict (settings in python/pyproject.toml) and its unit tests.
step "pip install ./python, mypy --strict, then its unit tests"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python
(cd python && "$venv/bin/python" -m mypy --strict statkit tests)
(cd python && "$venv/bin/python" -m unittest discover -s tests)

# --- Rust -------------------------------------------------------------------------
step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy "${cargo_flags[@]}" --workspace --all-targets -- -D warnings

# Broken intra-doc links and malformed doc comments fail like lints do.
step "cargo doc --no-deps --workspace (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc "${cargo_flags[@]}" --no-deps --workspace --quiet

# The parser takes every byte the network sends, the stats file decoder
# every byte another process wrote: a short fuzzing run on every change (a
# longer one is `scripts/fuzz-smoke.sh 600`).
# Under AddressSanitizer (cargo fuzz's default; the script lets the stable
# toolchain build it), so the readers' unsafe copies are checked too.
step "fuzzing every target under AddressSanitizer, 15 s each"
FUZZ_SANITIZER=address scripts/fuzz-smoke.sh 15

# The shared-memory cell code (raw words of a mapping, atomics shared with
# other threads and processes) under Miri, which checks it for undefined
# behaviour and data races. Miri comes with a nightly toolchain: added to
# the one rustup keeps beside stable when it is missing. Where no nightly
# with Miri can be had, the step says so and the run goes on: the same
# tests still run natively below.
step "Miri: the shared-memory cell code"
if rustup toolchain list 2>/dev/null | grep -q '^nightly' \
    && rustup +nightly component add miri rust-src >/dev/null 2>&1; then
    cargo +nightly miri test -p statkit --lib shm::cells
else
    echo "SKIPPED: no nightly toolchain with Miri here (rustup +nightly component add miri failed)"
fi

# --no-fail-fast: run every test binary, so one failure does not hide others.
step "cargo test --workspace --no-fail-fast"
cargo test "${cargo_flags[@]}" --workspace --no-fail-fast

step "all checks passed"
