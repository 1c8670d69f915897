#!/usr/bin/env bash
# Throughput of Postern's SMTP client (smarthost/relay transport, a new connection per
# message, PIPELINING) against Postfix's smtp-sink on loopback.
#   bench/smtp-client.sh [MESSAGES] [PARALLEL] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/smtp-client"
messages=${1:-5000}; parallel=${2:-10}; size=${3:-2048}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setsid smtp-sink -u root 127.0.0.1:$port 1000 >/dev/null 2>&1 & sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5
echo "load: $(uptime | sed 's/.*load average: //')"
dotnet run -c Release SmtpClientBench.cs -- "$port" "$messages" "$parallel" "$size"
