#!/usr/bin/env bash
# Builds and runs the sender-authentication benchmark in Release (DKIM sign/verify 10 KB and
# 1 MB with RSA-2048 and Ed25519, body canonicalisation MB/s, SPF evaluations/s).
#   bench/auth.sh [seconds-per-set]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build bench/Postern.Bench.Auth/Postern.Bench.Auth.csproj -c Release -v q -nologo >/dev/null
echo "load: $(uptime)"
dotnet bench/Postern.Bench.Auth/bin/Release/net10.0/Postern.Bench.Auth.dll "$@"
