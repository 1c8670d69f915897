#!/usr/bin/env bash
# Builds and runs the Postern.Mail parse benchmark in Release; prints MB/s per set.
#   bench/mail-parse.sh [corpus-dir] [seconds-per-set]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build bench/Postern.Bench.Mail/Postern.Bench.Mail.csproj -c Release -v q -nologo >/dev/null
dotnet bench/Postern.Bench.Mail/bin/Release/net10.0/Postern.Bench.Mail.dll "$@"
