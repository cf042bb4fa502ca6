#!/usr/bin/env bash
# Installs the statsd servers that bench/compare.py runs beside statkit.
#
# Only etsy statsd is installed here: it is the reference whose Graphite
# output statkit reproduces. It goes into bench/peers (git-ignored), pinned to
# 0.9.0 so every run compares against the same code. Other servers are given
# to compare.py with --peer and are installed however their authors say.
#
# Needs node and npm on PATH. Safe to run again: npm skips what is present.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
peers="$here/peers"
version="0.9.0"

command -v node >/dev/null || { echo "install-peers: node not found on PATH" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-peers: npm not found on PATH" >&2; exit 1; }

mkdir -p "$peers"
if [ ! -f "$peers/package.json" ]; then
    printf '{ "name": "statkit-bench-peers", "private": true }\n' > "$peers/package.json"
fi

# --no-audit/--no-fund: nothing but the package itself is fetched.
npm install --prefix "$peers" --no-audit --no-fund --no-save "statsd@$version"

installed="$(node -p "require('$peers/node_modules/statsd/package.json').version")"
if [ "$installed" != "$version" ]; then
    echo "install-peers: expected statsd $version, found $installed" >&2
    exit 1
fi
echo "etsy statsd $installed installed in $peers/node_modules/statsd (node $(node --version))"
