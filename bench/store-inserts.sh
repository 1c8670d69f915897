#!/usr/bin/env bash
# Durable store insert throughput: 10 KB messages from 1 and 10 concurrent writers, plus import batches.
# Each insert is on stable storage before it counts (file + folder fsync, WAL commit synchronous=FULL).
#   bench/store-inserts.sh [seconds] [data-dir]   (data-dir: where the test store goes; default $TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
secs=${1:-10}
dir=${2:-${TMPDIR:-/tmp}/postern-bench-store}
dotnet build bench/Postern.Bench.Store/Postern.Bench.Store.csproj -c Release -v q --nologo | grep -E "error|Warn|Build succeeded" || true
bin=bench/Postern.Bench.Store/bin/Release/net10.0/Postern.Bench.Store.dll
dotnet "$bin" inserts --writers 1 --seconds "$secs" --size 10240 --dir "$dir"
dotnet "$bin" inserts --writers 10 --seconds "$secs" --size 10240 --dir "$dir"
dotnet "$bin" import --batch 100 --count 10000 --size 10240 --dir "$dir"
dotnet "$bin" list --count 100000 --dir "$dir"
