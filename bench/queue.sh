#!/usr/bin/env bash
# Outgoing queue: 20,000 durably queued messages delivered through the direct transport to Postfix's
# smtp-sink on loopback (msg/s, peak RSS, commits per submission), then RSS with 100,000 messages waiting.
#   bench/queue.sh [count] [waiting] [data-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
count=${1:-20000}
waiting=${2:-100000}
dir=${3:-${TMPDIR:-/tmp}/postern-bench-queue}
command -v smtp-sink >/dev/null || { echo "smtp-sink (package postfix) is needed" >&2; exit 1; }
dotnet build bench/Postern.Bench.Queue/Postern.Bench.Queue.csproj -c Release -v q --nologo | grep -E "error|Build succeeded" || true
bin=bench/Postern.Bench.Queue/bin/Release/net10.0/Postern.Bench.Queue.dll
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
smtp-sink -u root 127.0.0.1:"$port" 1000 >/dev/null 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5
echo "load: $(uptime)"
dotnet "$bin" deliver --count "$count" --port "$port" --dir "$dir"
kill $sink 2>/dev/null || true
dotnet "$bin" waiting --count "$waiting" --dir "$dir"
rm -rf "$dir"
