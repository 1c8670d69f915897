#!/usr/bin/env bash
# Import benchmark: builds Release, generates a deterministic mbox (100,000 messages of about
# 10 KB by default) in /tmp, imports it with `postern import mbox` under /usr/bin/time -v,
# and prints messages/s, MB/s and peak RSS.
#   bench/import.sh [COUNT]          default 100000
#   bench/import.sh --huge [SIZE_MB] one message of SIZE_MB (default 500) instead
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

huge=0
if [ "${1:-}" = "--huge" ]; then huge=1; size_mb=${2:-500}; else count=${1:-100000}; fi
work=${BENCH_DIR:-/tmp/postern-bench}
mkdir -p "$work"

dotnet build -c Release src/Postern/Postern.csproj -nologo -v q > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
postern="dotnet src/Postern/bin/Release/net10.0/postern.dll"

if [ $huge = 1 ]; then
  mbox="$work/huge-${size_mb}mb.mbox"
  [ -f "$mbox" ] || /usr/bin/python3 bench/gen-mbox.py --huge "$mbox" "$size_mb"
  expected=1
else
  mbox="$work/bench-$count.mbox"
  [ -f "$mbox" ] || /usr/bin/python3 bench/gen-mbox.py "$mbox" "$count"
  expected=$count
fi
bytes=$(stat -c %s "$mbox")

data="$work/data"
rm -rf "$data"
$postern account add bench --dir "$data" > /dev/null
# Start from a cold page cache for the input as far as we can without root tricks: read it once so
# that every run sees the same (warm) state rather than a random one.
cat "$mbox" > /dev/null

/usr/bin/time -v $postern import mbox "$mbox" bench --dir "$data" > "$work/import.out" 2> "$work/time.txt" || {
  echo "import failed:"; cat "$work/import.out" "$work/time.txt"; exit 1; }
cat "$work/import.out"

elapsed=$(grep "Elapsed (wall clock)" "$work/time.txt" | sed -E 's/.*: //')
seconds=$(echo "$elapsed" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
rss_kb=$(grep "Maximum resident set size" "$work/time.txt" | awk '{ print $NF }')
imported=$(grep -oE "imported [0-9]+ messages" "$work/import.out" | awk '{ print $2 }')
[ "$imported" = "$expected" ] || { echo "expected $expected messages, imported $imported"; exit 1; }

awk -v n="$imported" -v b="$bytes" -v s="$seconds" -v r="$rss_kb" 'BEGIN {
  printf "messages:   %d (%.1f MB of mbox, %.1f KB average)\n", n, b / 1e6, b / n / 1024
  printf "wall time:  %.1f s (process start to exit)\n", s
  printf "rate:       %.0f messages/s, %.1f MB/s\n", n / s, b / 1e6 / s
  printf "peak RSS:   %.0f MB\n", r / 1024
}'
$postern verifydata "$data" | tail -1
