#!/usr/bin/env bash
# Junk filter cost: training from keywords, tokenizing, and classifying at delivery.
# Generates COUNT messages (default 5,000, ~10 KB each, bench/gen-mbox.py), appends them to a fresh
# store with half marked $Junk and half $NotJunk, trains, then tokenizes and classifies every one.
#   bench/junk.sh [COUNT] [data-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
count=${1:-5000}
dir=${2:-${TMPDIR:-/tmp}/postern-bench-junk}
mkdir -p "$dir"
python3 bench/gen-mbox.py "$dir/junk-bench.mbox" "$count" 7 >/dev/null
dotnet build bench/Postern.Bench.Store/Postern.Bench.Store.csproj -c Release -v q --nologo | grep -E "error|Warn|Build succeeded" || true
dotnet bench/Postern.Bench.Store/bin/Release/net10.0/Postern.Bench.Store.dll junk --mbox "$dir/junk-bench.mbox" --dir "$dir"
rm -f "$dir/junk-bench.mbox"
